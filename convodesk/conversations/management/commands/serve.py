"""Run the product: uvicorn (HTTP + WebSockets), the task worker and the timers loop together."""

import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand
from django.urls import reverse

from convodesk.devtools import demo


def web_command(python: str, host: str, port: int, workers: int) -> list[str]:
    """uvicorn, trusting X-Forwarded-For / -Proto only from the proxies FORWARDED_ALLOW_IPS
    names. uvicorn's own default trusts 127.0.0.1, so anyone on the machine could pick the
    client address the log-in throttle locks by; with no proxy named, no header is trusted."""
    command = [python, "-m", "uvicorn", "convodesk.asgi:application", "--host", host]
    command += ["--port", str(port), "--workers", str(workers), "--log-level", "warning"]
    proxies = os.environ.get("FORWARDED_ALLOW_IPS", "").strip()
    if proxies:
        return [*command, "--proxy-headers", "--forwarded-allow-ips", proxies]
    return [*command, "--no-proxy-headers"]


class Command(BaseCommand):
    help = "Serve Convodesk on http://HOST:PORT with its background worker and timers; Ctrl-C stops all."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--workers", type=int, default=1)

    def handle(self, *args, host, port, workers, **options):
        python = sys.executable
        manage = [python, os.path.abspath(sys.argv[0])]
        subprocess.run([*manage, "collectstatic", "--noinput", "-v0"], check=True)
        commands = {
            "web": web_command(python, host, port, workers),
            "worker": [*manage, "db_worker"],
            "timers": [*manage, "timers"],
            "mail": [*manage, "email_fetch", "--loop", "--interval", "60"],
        }
        if (settings.VAR_DIR / "demo-conversations-pending").exists():
            commands["demo"] = [*manage, "demo", "--conversations-only"]
        processes = {name: subprocess.Popen(cmd) for name, cmd in commands.items()}
        url = f"http://{host}:{port}"
        self.stdout.write(self.style.SUCCESS(f"\nConvodesk is serving on {url}/"))
        self.stdout.write(
            f"Log in at {url}{reverse('login')} — demo logins (password: {demo.DEMO_PASSWORD}):"
        )
        for username, what in demo.LOGINS:
            self.stdout.write(f"  {username:8} {what}")
        self.stdout.write(
            f"Chat widget demo page: {url}{reverse('livechat:demo')}\nPress Ctrl-C to stop.\n"
        )
        try:
            # The web server is the product: when it exits, everything stops. The background
            # processes are restarted when they fail; the demo loader finishes by itself.
            while processes["web"].poll() is None:
                time.sleep(0.5)
                for name in ("worker", "timers", "mail"):
                    if processes[name].poll() is not None:
                        self.stderr.write(
                            f"The {name} process exited (code {processes[name].returncode}); restarting it."
                        )
                        processes[name] = subprocess.Popen(commands[name])
            self.stderr.write(
                f"Stopped because the web server exited (code {processes['web'].returncode})."
            )
        except KeyboardInterrupt:
            self.stdout.write("\nStopping…")
        finally:
            for p in processes.values():
                if p.poll() is None:
                    p.send_signal(signal.SIGTERM)
            for p in processes.values():
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()
