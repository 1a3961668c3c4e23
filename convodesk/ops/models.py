from django.db import models


class Heartbeat(models.Model):
    """The last sign of life of one background process (worker, timers loop, mail poller).

    One row per (role, node); `/readyz` calls a role alive when any of its rows is fresh, so
    several timers loops on several machines share the role.
    """

    role = models.CharField(max_length=20)
    node = models.CharField(max_length=200)  # host name and process id
    started_at = models.DateTimeField()
    beat_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["role", "node"], name="heartbeat_unique")]
        indexes = [models.Index(fields=["role", "beat_at"], name="heartbeat_role")]

    def __str__(self):
        return f"{self.role} on {self.node}"
