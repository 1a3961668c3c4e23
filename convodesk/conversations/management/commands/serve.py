"""Run the product: uvicorn (HTTP + WebSockets), the task worker, the timers loop and the mail
pollers, all of them (`--role all`, a laptop) or one role per node (`--role web`, ...)."""

import os
import sys

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.urls import reverse

from convodesk.devtools import demo
from convodesk.ops.supervisor import Child, Supervisor

ROLES = ("web", "worker", "timers", "mail")


def web_command(python: str, host: str, port: int, workers: int, grace: float = 10) -> list[str]:
    """uvicorn, trusting X-Forwarded-For / -Proto only from the proxies FORWARDED_ALLOW_IPS
    names. uvicorn's own default trusts 127.0.0.1, so anyone on the machine could pick the
    client address the log-in throttle locks by; with no proxy named, no header is trusted."""
    command = [python, "-m", "uvicorn", "convodesk.asgi:application", "--host", host]
    command += ["--port", str(port), "--workers", str(workers), "--log-level", "warning"]
    # Open requests get most of the stop's grace period; sockets are closed (clients resume).
    command += ["--timeout-graceful-shutdown", str(max(1, int(grace) - 2))]
    proxies = os.environ.get("FORWARDED_ALLOW_IPS", "").strip()
    if proxies:
        return [*command, "--proxy-headers", "--forwarded-allow-ips", proxies]
    return [*command, "--no-proxy-headers"]


def role_children(role, python, manage, host, port, workers, grace) -> list[Child]:
    roles = ROLES if role == "all" else (role,)
    children = []
    if "web" in roles:
        children.append(Child("web", web_command(python, host, port, workers, grace)))
    if "worker" in roles:
        # One worker per queue (settings.TASKS): short tasks never wait behind a long job.
        children.append(Child("worker", [*manage, "db_worker", "--queue-name", "default"]))
        children.append(
            Child("jobs", [*manage, "db_worker", "--queue-name", settings.TASK_QUEUE_JOBS])
        )
    if "timers" in roles:
        children.append(Child("timers", [*manage, "timers"]))
    if "mail" in roles:
        children.append(Child("mail", [*manage, "email_fetch", "--loop", "--interval", "60"]))
        children.append(Child("telegram", [*manage, "telegram_poll", "--wait"]))
    return children


class Command(BaseCommand):
    help = (
        "Serve Convodesk: with --role all (the default) the web server on http://HOST:PORT, the "
        "task worker, the timers loop and the mail pollers; with --role web|worker|timers|mail "
        "one of them. SIGTERM or Ctrl-C stops every process (SIGKILL after --grace seconds)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--role",
            choices=[*ROLES, "all"],
            default=os.environ.get("SERVE_ROLE", "all"),
            help="What this node runs (SERVE_ROLE; default all).",
        )
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--workers", type=int, default=int(os.environ.get("WEB_WORKERS", "1")))
        parser.add_argument(
            "--grace",
            type=float,
            default=float(os.environ.get("STOP_GRACE_SECONDS", "10")),
            help="Seconds the processes get to stop before they are killed.",
        )
        parser.add_argument(
            "--max-restarts",
            type=int,
            default=int(os.environ.get("MAX_RESTARTS", "5")),
            help="A process that exits more often than this within a minute stops the whole serve.",
        )
        parser.add_argument(
            "--no-collectstatic", action="store_true", help="Static files are already collected."
        )

    def handle(self, *args, role, host, port, workers, grace, max_restarts, **options):
        python = sys.executable
        manage = [python, os.path.abspath(sys.argv[0])]
        if role in ("web", "all") and not options["no_collectstatic"]:
            call_command("collectstatic", interactive=False, verbosity=0)
        children = role_children(role, python, manage, host, port, workers, grace)
        pending = settings.VAR_DIR / "demo-conversations-pending"
        if role == "all" and pending.exists():
            # The count `demo --organisation-only --conversations N` left there.
            count = pending.read_text().strip()
            demo_command = [*manage, "demo", "--conversations-only"]
            if count.isdigit():
                demo_command += ["--conversations", count]
            children.append(Child("demo", demo_command, restart=False))
        supervisor = Supervisor(children, grace=grace, max_restarts=max_restarts)
        supervisor.install_signals()
        if role in ("web", "all"):
            url = f"http://{host}:{port}/"
            self.stdout.write(self.style.SUCCESS(f"\nConvodesk is serving on {url}"))
        if role == "all":
            self.stdout.write(
                f"Log in at {url.rstrip('/')}{reverse('login')} — demo logins (password: {demo.DEMO_PASSWORD}):"
            )
            for username, what in demo.LOGINS:
                self.stdout.write(f"  {username:8} {what}")
            self.stdout.write(f"Chat widget demo page: {url.rstrip('/')}{reverse('livechat:demo')}")
        self.stdout.write(
            f"Role {role}: {', '.join(c.name for c in children)}. Press Ctrl-C to stop.\n"
        )
        self.stdout.flush()
        if supervisor.run():
            raise CommandError("A process kept failing; everything was stopped.")
