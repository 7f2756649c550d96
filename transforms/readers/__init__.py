"""Readers of exported dossier files: one module per format behind one dispatcher
(``dispatch.read_table``), and what they share (header finding, aliases, per-source
mappings, assembly into a RawTable). A reader reads one file as far as its ``Body``;
bodies are cleaned and assembled many files at once (``assemble_bodies``).

dossier-log.md, "Reading files", "Real exports" and "Personal data never enters":
only columns whose header maps to a field survive the read; every other column is
dropped at once and only its header *name* is kept (``RawTable.dropped_columns``).
No value of the file ever appears in an object returned from here or in an exception
message. Values come out as text; typing them is ``transforms.normalise``'s, on a
batch of files at once."""

from transforms.readers.aliases import ALIASES_PATH, HeaderMatcher, load_aliases, match_header
from transforms.readers.assemble import Body, assemble_bodies, batch_facts
from transforms.readers.dispatch import FORMATS, detect_format, format_of, read_body, read_table
from transforms.readers.mapping import MappingError, SourceMapping, load_mapping, load_mappings, mapping_for
from transforms.readers.table import RawTable, UnusableFile
from transforms.readers.xlsx import sheet_extent

__all__ = [
    "ALIASES_PATH", "FORMATS", "Body", "HeaderMatcher", "MappingError", "RawTable", "SourceMapping", "UnusableFile",
    "assemble_bodies", "batch_facts", "detect_format", "format_of", "load_aliases", "load_mapping", "load_mappings",
    "mapping_for", "match_header", "read_body", "read_table", "sheet_extent",
]
