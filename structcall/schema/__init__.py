"""JSON Schema -> grammar IR.

`SchemaCompiler.value(schema, pointer)` returns a grammar node that admits the JSON (or Python
literal) texts of the instances of `schema`, with canonical (``", "`` and ``": "``) or compact
(``","`` and ``":"``) separators and no other whitespace. What a grammar cannot express is never dropped silently: it is
recorded as a `SchemaNote` in `unenforced` (the validator checks it after decoding) or, in strict
mode, raised as `UnsupportedSchemaError`. Where the schema sets no bound on a string, number,
array or free-form value, a documented default cap from `Limits` keeps a weak model from running
away, and is recorded in `capped`.

Modules: `compiler` (the compiler: bookkeeping, dispatch, $ref), `scalars` and `containers`
(its rules), `syntax` (JSON vs Python literals), `regex` (patterns and formats), `ranges`
(integer ranges), `merge` (allOf and friends), `notes` (`Limits`, `SchemaNote`, keyword classes).
"""

from .compiler import SchemaCompiler, is_identifier
from .notes import Limits, SchemaNote
from .regex import FORMAT_REGEXES, PatternCompiler
from .syntax import render_literal

__all__ = ["Limits", "SchemaNote", "SchemaCompiler", "render_literal", "FORMAT_REGEXES", "PatternCompiler", "is_identifier"]
