"""Importing contacts and companies from a CSV or .xlsx file (issue 20, item 7).

1. `start` keeps the uploaded file and reads its header row; 2. the employee maps each column
to a field and sees a `preview` of the first rows as they would be imported (errors and
duplicates shown); 3. `queue` hands the job to a background task, `run_import` reads the file
row by row (csv module / openpyxl read-only: constant memory whatever the file's size), checks
each batch against existing records for duplicates (normalised phone and e-mail, else the folded
name or title), creates the rest in bulk with a timeline event each, and writes the error
report (one line per refused or skipped row, with why) as it goes.

Imported records belong to the importing employee (responsible), so they stay in their scope.
"""

from __future__ import annotations

import csv
import datetime as dt
import logging
import uuid
from collections.abc import Iterator
from pathlib import Path

from django import forms
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l

from convodesk.conversations.normalize import normalize_email, normalize_phone
from convodesk.fielderrors import FieldErrors

from . import binding
from .models import Company, Contact, ContactEmail, ContactPhone, CrmEvent, CrmImport, fold
from .services import NotAllowed, may_create

log = logging.getLogger("convodesk.crm.imports")

MAX_BYTES = 50 * 1024 * 1024
MAX_ROWS = 1_000_000
BATCH = 500
PREVIEW_ROWS = 10
FIELDS = {
    "contact": {
        "name": _l("Name"),
        "phone": _l("Phone"),
        "email": _l("E-mail"),
        "company": _l("Company"),
        "comment": _l("Comment"),
    },
    "company": {
        "title": _l("Name"),
        "phone": _l("Phone"),
        "email": _l("E-mail"),
        "website": _l("Website"),
        "comment": _l("Comment"),
    },
}
REQUIRED = {"contact": "name", "company": "title"}
# Header texts recognised when guessing the mapping (lower case, accents dropped).
GUESSES = {
    "name": ("name", "nombre", "full name", "contact", "contacto"),
    "title": ("name", "nombre", "company", "empresa", "title", "compania"),
    "phone": ("phone", "telefono", "tel", "mobile", "movil"),
    "email": ("email", "e-mail", "mail", "correo"),
    "company": ("company", "empresa", "compania", "organisation", "organization"),
    "website": ("website", "web", "site", "url"),
    "comment": ("comment", "comentario", "notes", "notas", "note"),
}


def import_root() -> Path:
    return Path(settings.EXPORT_ROOT).parent / "imports"


# An upload whose import never starts (left at the column mapping) is removed after this.
ABANDONED_AFTER = dt.timedelta(days=1)
IMPORT_OPEN = ("mapping", "queued", "running")


def sweep_abandoned_uploads(now: dt.datetime | None = None) -> int:
    """Remove uploads nobody imported: the file of a job still waiting for its column mapping
    a day after the upload (the job then says so, failed), and any upload in the imports
    folder older than a day that no open job holds (a crash between writing and recording
    it). Error reports stay for their jobs. Run by every upload and every import job, as the
    export job purges old exports. Returns the number of files removed."""
    now = now or timezone.now()
    cutoff = now - ABANDONED_AFTER
    removed = 0
    stale = CrmImport.objects.filter(status=CrmImport.Status.MAPPING, created_at__lt=cutoff)
    for job in stale.exclude(file_path=""):
        Path(job.file_path).unlink(missing_ok=True)
        CrmImport.objects.filter(pk=job.pk, status=CrmImport.Status.MAPPING).update(
            status=CrmImport.Status.FAILED,
            file_path="",
            error=_("The uploaded file was removed: its import was not started within a day."),
            finished_at=now,
        )
        removed += 1
    root = import_root()
    if not root.is_dir():
        return removed
    held = set(
        CrmImport.objects.filter(status__in=IMPORT_OPEN)
        .exclude(file_path="")
        .values_list("file_path", flat=True)
    )
    for path in root.iterdir():
        if path.name.endswith(".errors.csv") or path.suffix not in (".csv", ".xlsx"):
            continue
        try:
            old = path.stat().st_mtime < cutoff.timestamp()
        except FileNotFoundError:
            continue
        if old and str(path) not in held:
            path.unlink(missing_ok=True)
            removed += 1
    return removed


def _drop_upload(job: CrmImport) -> None:
    """The job is over (done or failed): its uploaded file goes, its error report stays."""
    if job.file_path:
        Path(job.file_path).unlink(missing_ok=True)


# Reading the file -------------------------------------------------------------------------


def _is_xlsx(path: str) -> bool:
    return path.lower().endswith(".xlsx")


def _csv_rows(path: Path) -> Iterator[list[str]]:
    with open(path, encoding="utf-8-sig", errors="replace", newline="") as handle:
        sample = handle.read(64 * 1024)
        handle.seek(0)
        try:
            dialect = csv.Sniffer().sniff(sample, delimiters=",;\t")
        except csv.Error:
            dialect = csv.excel
        yield from csv.reader(handle, dialect)


def _xlsx_rows(path: Path) -> Iterator[list[str]]:
    import openpyxl

    book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        sheet = book.worksheets[0]
        for values in sheet.iter_rows(values_only=True):
            yield ["" if v is None else str(v) for v in values]
    finally:
        book.close()


def rows_of(path: Path) -> Iterator[list[str]]:
    """Every row of the file (the header included), as lists of text."""
    reader = _xlsx_rows(path) if _is_xlsx(str(path)) else _csv_rows(path)
    for row in reader:
        yield [cell.replace("\x00", "").strip() for cell in row]


# Starting ---------------------------------------------------------------------------------


def start(user, kind: str, upload) -> CrmImport:
    """Keep the uploaded file, read its header and guess the mapping."""
    if not may_create(user):
        raise NotAllowed(_("You may not create CRM records."))
    if kind not in FIELDS:
        raise FieldErrors({"kind": _("Import contacts or companies.")})
    name = (upload.name or "").rsplit("/", 1)[-1][:200]
    suffix = ".xlsx" if name.lower().endswith(".xlsx") else ".csv"
    if not name.lower().endswith((".csv", ".xlsx", ".txt")):
        raise FieldErrors({"file": _("Choose a .csv or .xlsx file.")})
    if upload.size > MAX_BYTES:
        raise FieldErrors({"file": _("The file is larger than 50 MB.")})
    root = import_root()
    root.mkdir(parents=True, exist_ok=True)
    sweep_abandoned_uploads()
    path = root / f"{uuid.uuid4().hex}{suffix}"
    with open(path, "wb") as target:
        for chunk in upload.chunks():
            target.write(chunk)
    try:
        header = next(iter(rows_of(path)), None)
    except Exception as exc:  # noqa: BLE001 - a broken file is the user's to fix, not a 500
        path.unlink(missing_ok=True)
        log.info("unreadable import file %s: %s", name, exc)
        raise FieldErrors({"file": _("This file cannot be read as CSV or .xlsx.")}) from None
    if not header or not any(header):
        path.unlink(missing_ok=True)
        raise FieldErrors({"file": _("The file is empty: its first row names the columns.")})
    header = [h[:100] for h in header[:100]]
    return CrmImport.objects.create(
        owner=user,
        kind=kind,
        file_path=str(path),
        file_name=name,
        headers=header,
        mapping=guess_mapping(kind, header),
    )


def guess_mapping(kind: str, header: list[str]) -> dict[str, str]:
    mapping, used = {}, set()
    for index, text in enumerate(header):
        key = fold(text)
        for field in FIELDS[kind]:
            if field not in used and key in GUESSES.get(field, ()):
                mapping[str(index)] = field
                used.add(field)
                break
    return mapping


def set_mapping(job: CrmImport, mapping: dict[str, str], duplicates: str) -> None:
    cleaned, used = {}, set()
    for index, field in mapping.items():
        if not field:
            continue
        if field not in FIELDS[job.kind] or not index.isdigit() or int(index) >= len(job.headers):
            raise FieldErrors({"mapping": _("Unknown field.")})
        if field in used:
            raise FieldErrors(
                {"mapping": _("“%(field)s” is mapped twice.") % {"field": FIELDS[job.kind][field]}}
            )
        used.add(field)
        cleaned[index] = field
    if REQUIRED[job.kind] not in used:
        raise FieldErrors(
            {
                "mapping": _("Map a column to “%(field)s”.")
                % {"field": FIELDS[job.kind][REQUIRED[job.kind]]}
            }
        )
    if duplicates not in CrmImport.Duplicates.values:
        raise FieldErrors({"duplicates": _("Choose what to do with duplicates.")})
    job.mapping, job.duplicates = cleaned, duplicates
    job.save(update_fields=["mapping", "duplicates"])


# Checking rows ----------------------------------------------------------------------------

_email = forms.EmailField()


class Row:
    __slots__ = ("number", "values", "data", "errors", "duplicate_of", "phones", "email", "key")

    def __init__(self, number, values, data):
        self.number, self.values, self.data = number, values, data
        self.errors: list[str] = []
        self.duplicate_of = None
        self.phones: list[tuple[str, str]] = []
        self.email = ""
        self.key = ""


def _mapped(job: CrmImport, number: int, values: list[str]) -> Row:
    data = {field: "" for field in FIELDS[job.kind]}
    for index, field in job.mapping.items():
        i = int(index)
        data[field] = values[i] if i < len(values) else ""
    return Row(number, values, data)


def _check(job: CrmImport, rows: list[Row], country: str) -> None:
    """Validate a batch and find duplicates against the database and earlier rows of it."""
    required = REQUIRED[job.kind]
    for row in rows:
        data = row.data
        if not data[required]:
            row.errors.append(_("“%(field)s” is empty.") % {"field": FIELDS[job.kind][required]})
        elif len(data[required]) > 255:
            row.errors.append(_("The name is longer than 255 characters."))
        for raw in [p for p in data["phone"].replace(";", ",").split(",") if p.strip()]:
            normalized = normalize_phone(raw, country)
            if not normalized or len(raw) > 64:
                row.errors.append(_("“%(value)s” is not a phone number.") % {"value": raw[:70]})
            else:
                row.phones.append((raw.strip(), normalized))
        if data["email"]:
            try:
                _email.clean(data["email"])
                row.email = normalize_email(data["email"])
            except forms.ValidationError:
                row.errors.append(
                    _("“%(value)s” is not an e-mail address.") % {"value": data["email"][:80]}
                )
        row.key = fold(data[required])[:255]
    good = [r for r in rows if not r.errors]
    if job.kind == "contact":
        phones = {n for r in good for _raw, n in r.phones}
        emails = {r.email for r in good if r.email}
        by_phone = dict(
            ContactPhone.objects.filter(normalized__in=phones, verified=True).values_list(
                "normalized", "contact_id"
            )
        )
        by_email = dict(
            ContactEmail.objects.filter(normalized__in=emails, verified=True).values_list(
                "normalized", "contact_id"
            )
        )
        bare = {r.key for r in good if not r.phones and not r.email}
        by_name = dict(Contact.objects.filter(name_key__in=bare).values_list("name_key", "pk"))
        seen: dict[str, str] = {}
        for row in good:
            keys = [f"p:{n}" for _raw, n in row.phones] + ([f"e:{row.email}"] if row.email else [])
            if not keys:
                keys = [f"n:{row.key}"]
            found = next((by_phone[n] for _raw, n in row.phones if n in by_phone), None)
            if found is None and row.email:
                found = by_email.get(row.email)
            if found is None and not row.phones and not row.email:
                found = by_name.get(row.key)
            if found:
                row.duplicate_of = f"#{found}"
            else:
                earlier = next((seen[k] for k in keys if k in seen), None)
                if earlier:
                    row.duplicate_of = earlier
            for k in keys:
                seen.setdefault(k, _("row %(n)s") % {"n": row.number})
    else:
        existing = {}
        for pk, title in Company.objects.filter(
            title__in={r.data["title"] for r in good}
        ).values_list("pk", "title"):
            existing.setdefault(fold(title), pk)
        seen = {}
        for row in good:
            if row.key in existing:
                row.duplicate_of = f"#{existing[row.key]}"
            elif row.key in seen:
                row.duplicate_of = seen[row.key]
            seen.setdefault(row.key, _("row %(n)s") % {"n": row.number})


def preview(job: CrmImport) -> list[Row]:
    """The first rows as they would be imported, checked, without writing anything."""
    rows = []
    for number, values in enumerate(rows_of(Path(job.file_path)), start=1):
        if number == 1:
            continue
        if not any(values):
            continue
        rows.append(_mapped(job, number, values))
        if len(rows) >= PREVIEW_ROWS:
            break
    _check(job, rows, binding.default_country())
    return rows


# Running ----------------------------------------------------------------------------------


def queue(user, job: CrmImport) -> None:
    if job.owner_id != user.pk:
        raise NotAllowed()
    if job.status != CrmImport.Status.MAPPING:
        raise FieldErrors({"__all__": _("This import has already started.")})
    job.status = CrmImport.Status.QUEUED
    job.save(update_fields=["status"])
    from .tasks import run_crm_import

    run_crm_import.enqueue(str(job.pk))


def _create(job: CrmImport, rows: list[Row], companies: dict[str, int]) -> int:
    now = timezone.now()
    if job.kind == "company":
        records = [
            Company(
                title=r.data["title"][:255],
                phone=r.data["phone"][:64],
                email=r.data["email"][:254],
                website=r.data["website"][:255],
                comment=r.data["comment"],
                responsible_id=job.owner_id,
            )
            for r in rows
        ]
        for record in records:
            record.search = fold(
                " ".join([record.title, record.phone, record.email, record.website])
            )
        Company.objects.bulk_create(records)
    else:
        wanted = {r.data["company"][:255] for r in rows if r.data["company"]}
        missing = [t for t in wanted if fold(t) not in companies]
        if missing:
            for pk, title in Company.objects.filter(title__in=missing).values_list("pk", "title"):
                companies.setdefault(fold(title), pk)
        new = [t for t in wanted if fold(t) not in companies]
        if new:
            made = Company.objects.bulk_create(
                [Company(title=t, search=fold(t), responsible_id=job.owner_id) for t in new]
            )
            for company in made:
                companies[fold(company.title)] = company.pk
        if len(companies) > 10_000:  # keep memory flat on files with countless companies
            companies.clear()
        records = []
        for r in rows:
            parts = [r.data["name"]] + [x for pair in r.phones for x in pair] + [r.email]
            records.append(
                Contact(
                    name=r.data["name"][:255],
                    name_key=r.key,
                    search=fold(" ".join(p for p in parts if p)),
                    comment=r.data["comment"],
                    company_id=companies.get(fold(r.data["company"][:255]))
                    if r.data["company"]
                    else None,
                    responsible_id=job.owner_id,
                )
            )
        Contact.objects.bulk_create(records)
        phones, emails = [], []
        for record, r in zip(records, rows, strict=True):
            seen = set()
            for raw, normalized in r.phones:
                if normalized not in seen:
                    seen.add(normalized)
                    phones.append(ContactPhone(contact=record, value=raw, normalized=normalized))
            if r.email:
                emails.append(
                    ContactEmail(contact=record, value=r.data["email"][:254], normalized=r.email)
                )
        ContactPhone.objects.bulk_create(phones)
        ContactEmail.objects.bulk_create(emails)
    CrmEvent.objects.bulk_create(
        [
            CrmEvent(
                entity_type=job.kind,
                entity_id=record.pk,
                kind="imported",
                actor_id=job.owner_id,
                at=now,
                payload={"import": job.pk, "file": job.file_name, "row": r.number},
            )
            for record, r in zip(records, rows, strict=True)
        ]
    )
    return len(records)


def _count_rows(path: Path) -> int:
    if _is_xlsx(str(path)):
        import openpyxl

        book = openpyxl.load_workbook(path, read_only=True)
        try:
            return max(0, (book.worksheets[0].max_row or 1) - 1)
        finally:
            book.close()
    with open(path, "rb") as handle:
        return max(0, sum(1 for _line in handle) - 1)


def run_import(job_id, after_batch=None) -> None:
    """The background task's body: import the whole file, tracking progress.
    `after_batch(rows_read)` is called after each batch (the tests watch memory with it)."""
    sweep_abandoned_uploads()
    job = CrmImport.objects.select_related("owner").filter(pk=job_id).first()
    if job is None or job.status != CrmImport.Status.QUEUED:
        return
    try:
        _run(job, after_batch)
    except Exception as exc:  # noqa: BLE001 - e.g. the file unreadable before the rows: failed
        log.exception("CRM import %s failed", job.pk)
        CrmImport.objects.filter(pk=job.pk).update(
            status=CrmImport.Status.FAILED,
            error=str(exc)[:2000] or exc.__class__.__name__,
            file_path="",
            finished_at=timezone.now(),
        )
    finally:
        _drop_upload(job)


def _run(job: CrmImport, after_batch) -> None:
    path = Path(job.file_path)
    report = path.with_suffix(".errors.csv")
    job.status, job.report_path = CrmImport.Status.RUNNING, str(report)
    job.total = _count_rows(path)
    job.save(update_fields=["status", "report_path", "total"])
    country = binding.default_country()
    companies: dict[str, int] = {}
    counts = {"processed": 0, "created": 0, "duplicates": 0, "errors": 0}
    try:
        with open(report, "w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow([_("Row"), _("Problem"), *job.headers])
            batch: list[Row] = []

            def flush():
                _check(job, batch, country)
                create = []
                for row in batch:
                    if row.errors:
                        counts["errors"] += 1
                        writer.writerow([row.number, " ".join(row.errors), *row.values])
                    elif row.duplicate_of and job.duplicates == CrmImport.Duplicates.SKIP:
                        counts["duplicates"] += 1
                        writer.writerow(
                            [
                                row.number,
                                _("Skipped: the same as %(other)s.") % {"other": row.duplicate_of},
                                *row.values,
                            ]
                        )
                    else:
                        create.append(row)
                with transaction.atomic():
                    counts["created"] += _create(job, create, companies) if create else 0
                counts["processed"] += len(batch)
                CrmImport.objects.filter(pk=job.pk).update(
                    processed=counts["processed"],
                    created_count=counts["created"],
                    duplicate_count=counts["duplicates"],
                    error_count=counts["errors"],
                )
                batch.clear()
                if after_batch is not None:
                    after_batch(counts["processed"])

            for number, values in enumerate(rows_of(path), start=1):
                if number == 1 or not any(values):
                    continue
                if number > MAX_ROWS + 1:
                    writer.writerow([number, _("Beyond the 1,000,000 rows one import takes.")])
                    counts["errors"] += 1
                    break
                batch.append(_mapped(job, number, values))
                if len(batch) >= BATCH:
                    flush()
            if batch:
                flush()
    except Exception as exc:  # noqa: BLE001 - any failure is the job's outcome, shown to its owner
        log.exception("CRM import %s failed", job.pk)
        CrmImport.objects.filter(pk=job.pk).update(
            status=CrmImport.Status.FAILED,
            error=str(exc)[:2000] or exc.__class__.__name__,
            file_path="",
            finished_at=timezone.now(),
        )
        return
    CrmImport.objects.filter(pk=job.pk).update(
        status=CrmImport.Status.DONE,
        file_path="",
        processed=counts["processed"],
        created_count=counts["created"],
        duplicate_count=counts["duplicates"],
        error_count=counts["errors"],
        finished_at=timezone.now(),
    )
