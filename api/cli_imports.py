"""``vaani contacts import LIST_ID FILE`` and ``vaani dnd import DND_LIST_ID FILE``: CSV imports from a terminal.

They stream the file through the very importer the HTTP endpoints use
(:func:`api.contacts.import_contacts_csv` / :func:`api.contacts.import_dnd_csv`,
inside the API app's context so the same settings, database and region
apply), with a progress bar on a terminal (:mod:`api.cli_progress`), then
print a summary: rows imported, rows rejected with their line numbers and
reasons. Exit status: 0 when rows were imported (or the file had none), 1
when no row was valid or the import could not run (missing file, unknown
list, malformed CSV), with one readable line on stderr.
"""

from __future__ import annotations

import os
import sys
from typing import Callable

#: Rejected rows listed in the summary (all are counted; the importer keeps the first 100).
SHOWN_REJECTIONS = 100


class ImportFailed(ValueError):
    """The import could not run or accepted nothing: printed as one line, exit status 1."""


def _settings():
    from config import settings

    return settings()


def _check_file(path: str) -> None:
    if not os.path.exists(path):
        raise ImportFailed(f"no such file: {path}")
    if os.path.isdir(path):
        raise ImportFailed(f"{path} is a directory, not a CSV file")
    if not os.access(path, os.R_OK):
        raise ImportFailed(f"cannot read {path} (permission denied)")


def run_import(importer: Callable, model, list_id: str, path: str, *, what: str, label: str = "",
               progress_stream=None):
    """Stream ``path`` into the ``model`` list ``list_id`` with ``importer`` (one of api.contacts' CSV importers).

    Runs inside an app context (the importer reads its settings and
    database from there). Returns the ``ImportResult``. An unknown list or a
    malformed CSV raises :class:`ImportFailed` (a malformed row's message
    names its line; rows of the batches written before it stay imported).
    """
    from flask import Flask

    from api import store
    from api.cli_progress import open_tracked
    from api.errors import ApiError

    cfg = _settings()
    # No migration here (it costs a run of alembic): the list must exist, so the schema does; a database
    # without it is a database error that vaani's main prints as one line.
    # The importer reads its settings and database through api.store, from the current app: an app
    # holding just those (as api.app.create_app sets them), without the HTTP blueprints a CLI never serves.
    app = Flask("vaani-cli")
    app.config["VAANI"] = cfg
    with app.app_context():
        with store.session() as s:
            if s.get(model, list_id) is None:
                raise ImportFailed(f"unknown {what} {list_id!r}")
        with open_tracked(path, label=label, stream=progress_stream) as fh:
            try:
                result = importer(list_id, fh)
            except ApiError as exc:  # csv.Error, reported by the importer with its line number
                fh.progress.close()
                raise ImportFailed(f"{path}: {exc.message}") from None
            fh.progress.close()
    return result


def print_summary(result, path: str, noun: str, out=None) -> None:
    """The import's report: counts, then each rejected row as ``line N: reason``."""
    out = out or sys.stdout
    print(f"{path}: {result.imported} {noun} imported, {result.rejected} rows rejected", file=out)
    for err in result.errors[:SHOWN_REJECTIONS]:
        print(f"  line {err['line']}: {err['reason']}", file=out)
    unlisted = result.rejected - min(len(result.errors), SHOWN_REJECTIONS)
    if unlisted > 0:
        print(f"  ... and {unlisted} more rejected rows (only the first {len(result.errors)} are listed)", file=out)


def _import_command(args, *, model, what: str, noun: str, importer_name: str) -> int:
    from api import contacts

    _check_file(args.file)
    result = run_import(getattr(contacts, importer_name), model, args.list_id, args.file, what=what,
                        label=os.path.basename(args.file))
    print_summary(result, args.file, noun)
    if result.imported == 0 and result.rejected:
        raise ImportFailed(f"no valid rows in {args.file}: ({result.rejected}) rejected")
    return 0


def cmd_contacts_import(args) -> int:
    """Import a contacts CSV into a contact list."""
    from dialer.store.models import ContactList

    return _import_command(args, model=ContactList, what="contact list", noun="contacts",
                           importer_name="import_contacts_csv")


def cmd_dnd_import(args) -> int:
    """Import a DND CSV into a DND list."""
    from dialer.store.models import DndList

    return _import_command(args, model=DndList, what="DND list", noun="DND numbers", importer_name="import_dnd_csv")


def register(sub) -> None:
    """Add ``contacts import`` and ``dnd import`` to the ``vaani`` parser's sub-commands."""
    layout = ("CSV with a header naming contact_number (or number/phone), contact_name and any other fields; "
              "or no header: number, name, field1, field2, ...")
    contacts = sub.add_parser("contacts", help="contact lists").add_subparsers(dest="contacts_command",
                                                                              required=True)
    c = contacts.add_parser("import", help="import a contacts CSV into a list (progress bar, summary)",
                            description=layout)
    c.add_argument("list_id", help="the contact list's id (LS...)")
    c.add_argument("file", help="path of the CSV file")
    c.set_defaults(func=cmd_contacts_import)

    dnd = sub.add_parser("dnd", help="DND lists").add_subparsers(dest="dnd_command", required=True)
    d = dnd.add_parser("import", help="import a DND CSV into a DND list (progress bar, summary)",
                       description=layout.replace("contact_number", "dnd_contact_number"))
    d.add_argument("list_id", metavar="dnd_list_id", help="the DND list's id")
    d.add_argument("file", help="path of the CSV file")
    d.set_defaults(func=cmd_dnd_import)
