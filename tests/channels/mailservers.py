"""Real mail servers on 127.0.0.1 for the e-mail connector's tests: Dovecot (IMAP) and aiosmtpd (SMTP)."""

import imaplib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

DOVECOT = "/usr/sbin/dovecot"
DOVEADM = "/usr/bin/doveadm"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


CONFIG = """protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:~/Maildir
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {root}/users
}}
userdb {{
  driver = static
  args = uid=nobody gid=nogroup home={root}/mail/%u
}}
service imap-login {{
  inet_listener imap {{
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
auth_failure_delay = 0
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
"""


class Dovecot:
    def __init__(self):
        self.root = Path(tempfile.mkdtemp(prefix="convodesk-imap-"))
        os.chmod(self.root, 0o755)
        (self.root / "mail").mkdir()
        shutil.chown(self.root / "mail", "nobody", "nogroup")
        self.users = self.root / "users"
        # Every mailbox user exists from the start: the passwd-file is re-read by mtime, and two
        # additions within one second would go unseen.
        self.users.write_text("".join(f"box{i}:{{PLAIN}}pw\n" for i in range(1, 301)))
        os.chmod(self.users, 0o644)
        self.port = free_port()
        self.config = self.root / "dovecot.conf"
        self.config.write_text(CONFIG.format(root=self.root, port=self.port))
        self.process = None

    def start(self):
        self.process = subprocess.Popen(
            [DOVECOT, "-F", "-c", str(self.config)], start_new_session=True
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.02)
        raise RuntimeError(
            "dovecot did not start: " + (self.root / "dovecot.log").read_text(errors="replace")
        )

    def append(self, user: str, password: str, raw: bytes, folder: str = "INBOX") -> None:
        client = imaplib.IMAP4("127.0.0.1", self.port)
        client.login(user, password)
        status, detail = client.append(folder, None, imaplib.Time2Internaldate(time.time()), raw)
        client.logout()
        assert status == "OK", detail

    def set_uidvalidity(self, user: str, value: int) -> None:
        subprocess.run(
            [
                DOVEADM,
                "-c",
                str(self.config),
                "mailbox",
                "update",
                "-u",
                user,
                "--uid-validity",
                str(value),
                "INBOX",
            ],
            check=True,
            capture_output=True,
        )

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
        shutil.rmtree(self.root, ignore_errors=True)


class SmtpRecorder:
    def __init__(self):
        from aiosmtpd.controller import Controller

        self.messages = []
        recorder = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                recorder.messages.append(envelope)
                return "250 Message accepted for delivery"

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)

    def start(self):
        self.controller.start()
        return self

    def stop(self):
        self.controller.stop()
