"""What the open channel screen posts, for the close reason tests."""


def line_post(line, **extra):
    data = {
        "name": line.name,
        "distribution": line.distribution,
        "queue_timeout_seconds": str(line.queue_timeout_seconds),
        "max_open_per_employee": str(line.max_open_per_employee),
        "auto_close_minutes": str(line.auto_close_minutes),
        "full_close_minutes": str(line.full_close_minutes),
        "reopen_window_minutes": str(line.reopen_window_minutes),
        "crm_binding": line.crm_binding,
        "time_zone": line.time_zone,
    }
    data.update(extra)
    return data
