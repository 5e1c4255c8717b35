"""What the compiler records and knows: default caps (`Limits`), notes on where the grammar
differs from the schema (`SchemaNote`), and the keyword classes."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    """Default caps for values the schema leaves unbounded (each use is reported in
    `ToolGrammar.capped`). A schema's own bound always wins over these."""

    max_string_length: int = 128
    """Characters in a string without ``maxLength``."""
    max_number_digits: int = 15
    """Digits in the integer part (and, separately, the fraction) of a number; 15 is the
    precision of a double."""
    max_array_items: int = 32
    """Items in an array without ``maxItems``."""
    max_object_properties: int = 32
    """Entries in a free-form object (no ``properties``) without ``maxProperties``."""
    max_any_depth: int = 4
    """Nesting depth of a value whose schema says nothing about it (``{}`` / ``true``)."""

    def __post_init__(self):
        for name in ("max_string_length", "max_number_digits", "max_array_items", "max_object_properties", "max_any_depth"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ValueError(f"Limits.{name} must be a positive integer, got {v!r}")


@dataclass(frozen=True)
class SchemaNote:
    """A place where the grammar differs from the schema: a keyword it does not enforce (checked
    by the validator after decoding) or a cap it adds."""

    pointer: str
    keyword: str
    detail: str

    def __str__(self) -> str:
        return f"{self.pointer or '/'}: {self.keyword}: {self.detail}"


# keywords that only annotate
ANNOTATIONS = {
    "title", "description", "default", "examples", "example", "$schema", "$id", "$comment", "deprecated",
    "readOnly", "writeOnly", "contentMediaType", "contentEncoding", "$anchor", "$defs", "definitions",
    "strict", "discriminator", "x-order", "nullable", "$dynamicAnchor", "optional",
}
# assertion keywords we know and never enforce in the grammar (validator only)
VALIDATOR_ONLY = {
    "multipleOf", "uniqueItems", "contains", "minContains", "maxContains", "not", "if", "then", "else",
    "dependentRequired", "dependentSchemas", "dependencies", "propertyNames",
    "unevaluatedProperties", "unevaluatedItems", "$dynamicRef",
}
