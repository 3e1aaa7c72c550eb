"""Validated import of grids, requests, police stations, volunteer activities and admin units.

Used by ``gridmap import`` and the Data page (preview and validation report). The flow is
read → validate → write, one module per step:

* :mod:`~geo.importer.read`: :func:`read_table` sniffs the content, not only the extension,
  and reads CSV (UTF-8 with or without BOM, or GB18030/GBK), Excel ``.xlsx``, GeoJSON,
  GeoPackage (first layer) or a zipped Shapefile into a frame of text columns. Its index,
  named ``row``, is the 1-based data row (or feature) number that every :class:`Problem`
  refers to: for CSV and Excel the line the spreadsheet shows (the header is line 1).
  :func:`detect_kind` guesses the kind of a file from its columns and geometry.
* :mod:`~geo.importer.columns` maps English store column names or their Chinese aliases to
  store columns and rejects a file that lacks a required one.
* :mod:`~geo.importer.validate` (``validate_*``) checks every row with the vectorised checks
  of :mod:`~geo.importer.rows` (Python loops run over bad rows only), converts coordinates to
  WGS84 once with :mod:`~geo.importer.geometry`, and returns the rows ready for
  :mod:`geo.store` together with the problems found.
* :mod:`~geo.importer.updates`: the rows of a requests file whose external id is already
  stored are updates of those requests (a later export of the handling platform), applied
  through :func:`geo.updates.apply_updates`; the rest are new.
* :mod:`~geo.importer.load`: :func:`import_file` runs them all and writes every valid row in
  one transaction.
* :mod:`~geo.importer.report` holds what they all record into: :class:`Problem`,
  :class:`ImportFileError` and :class:`ImportReport`; :mod:`~geo.importer.reasons` the
  code and the 中文/English text of every reason a row is refused or warned about.
* :mod:`~geo.importer.files`: the templates of each kind, the refused rows handed back
  with their reasons, and the problem report, all formula-escaped.

Rules
-----
CRS
    An explicit ``crs`` always wins. Without one, a GeoJSON/GeoPackage/Shapefile that
    declares a CRS other than EPSG:4326/EPSG:4490 is read in its declared CRS; everything
    else is taken as WGS84. The normalised name is stored in ``source_crs``. The "outside
    China" check runs on the converted WGS84 coordinates.
Times
    Naive times in a file are Asia/Shanghai local time; times with an offset (``Z``,
    ``+08:00``) are honoured. Both are stored as naive UTC. Activity dates are taken as
    written (local dates).
Rows
    A row with an error is rejected; a row with only warnings is written. Within a file the
    first row with a given code or external id wins; later ones are rejected. Every row read
    is counted as new, updated, unchanged (a stale row, older than the stored state, is
    unchanged) or refused; a dry run judges against the stored data and counts alike.
"""

from geo.importer.columns import detect_kind, template
from geo.importer.files import problems_file, refused_rows, template_file
from geo.importer.geometry import resolve_crs
from geo.importer.load import WRITE_CHUNK, import_file
from geo.importer.read import read_chunks, read_table
from geo.importer.reasons import REASONS, Reason
from geo.importer.report import KINDS, ImportFileError, ImportReport, Problem, Progress
from geo.importer.rows import MAX_PROBLEMS_PER_REASON
from geo.importer.validate import (
    MAX_DESCRIPTION,
    validate_activities,
    validate_grids,
    validate_requests,
    validate_stations,
    validate_units,
)

__all__ = [
    "KINDS",
    "MAX_DESCRIPTION",
    "MAX_PROBLEMS_PER_REASON",
    "REASONS",
    "WRITE_CHUNK",
    "ImportFileError",
    "ImportReport",
    "Problem",
    "Progress",
    "Reason",
    "detect_kind",
    "import_file",
    "problems_file",
    "read_chunks",
    "read_table",
    "refused_rows",
    "resolve_crs",
    "template",
    "template_file",
    "validate_activities",
    "validate_grids",
    "validate_requests",
    "validate_stations",
    "validate_units",
]
