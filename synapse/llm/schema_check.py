"""Which JSON schemas llama.cpp's schema-to-grammar converter enforces, and their cleaned form for it.

The converter (`llama_cpp.llama_grammar.SchemaConverter`) silently drops much of JSON Schema: number bounds,
`patternProperties`, `if`/`then`, `not`, most `format`s, siblings of `$ref`, `anyOf` and type lists, and
lengths next to a `pattern`. A schema is accepted only when every assertion in it is one the grammar
enforces; anything else is a 422 that names the keyword and where it is, so no answer silently misses
the schema. Annotations (titles, descriptions, defaults) are dropped before conversion.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from synapse.llm.errors import UnsupportedSchemaError

ANNOTATIONS = frozenset(
    {"title", "description", "default", "examples", "$comment", "deprecated", "readOnly", "writeOnly"}
    | {"$schema", "$id", "discriminator", "contentMediaType", "contentEncoding"}
)
#: String formats the converter turns into grammar rules; it passes any other format as a plain string.
FORMATS = frozenset({"date", "time", "date-time", "uuid", "uuid1", "uuid2", "uuid3", "uuid4", "uuid5"})
TYPES = frozenset({"object", "array", "string", "number", "integer", "boolean", "null"})
_DEFS = ("$defs", "definitions")
_OBJECT = {"type", "properties", "required", "additionalProperties"}
_ARRAY = {"type", "items", "prefixItems", "minItems", "maxItems"}
#: Regex escapes the converter copies into GBNF correctly: literal metacharacters and GBNF's own escapes.
_PATTERN_ESCAPE = re.compile(r"\\(.)")
_GOOD_ESCAPES = set('[]()|{}*+?\\"nrtxu')
_ANY_VALUE = {"type": ["object", "array", "string", "number", "boolean", "null"]}


class SchemaCleaner:
    """Checks a schema against what the converter enforces and returns the copy to convert.

    `prefix` renames the schema's `$defs` so that several schemas in one grammar never share a rule name
    (the converter names a `$ref` rule after the ref's last segment only).
    """

    def __init__(self, where: str, prefix: str) -> None:
        self.where = where
        self.prefix = prefix

    def fail(self, path: str, what: str) -> UnsupportedSchemaError:
        return UnsupportedSchemaError(
            f"{self.where}: {what} at {path} cannot be enforced by constrained decoding",
            "remove that construct from the schema, or express it with type, properties, required, enum, "
            "const, anyOf, items, pattern (^...$), minLength/maxLength or a date/time/uuid format",
        )

    def clean(self, schema: Any) -> dict[str, Any]:
        """The cleaned root schema; raises UnsupportedSchemaError naming the first unsupported construct."""
        if schema is True:
            return {}
        if not isinstance(schema, Mapping):
            raise self.fail("$", f"a schema of type {type(schema).__name__}")
        out = self.node(schema, "$", root=True)
        for key in _DEFS:
            if isinstance(schema.get(key), Mapping):
                out[key] = {self.prefix + n: self.node(s, f"$.{key}.{n}") for n, s in schema[key].items()}
        return out

    def node(self, schema: Any, path: str, *, root: bool = False) -> dict[str, Any]:
        if schema is True:
            return dict(_ANY_VALUE)
        if not isinstance(schema, Mapping):
            raise self.fail(path, "a boolean false or non-object schema")
        if not root and any(k in schema for k in _DEFS):
            raise self.fail(path, "nested $defs")
        body = self._flatten(
            {k: v for k, v in schema.items() if k not in ANNOTATIONS and k not in _DEFS},
            path,
        )
        if not body:
            return {} if root else dict(_ANY_VALUE)
        return self._branch(body, path)

    def _flatten(self, body: dict[str, Any], path: str) -> dict[str, Any]:
        # A one-member allOf (how pydantic v1 attaches a description to a $ref) is that member.
        if "allOf" not in body:
            return body
        members = body.pop("allOf")
        if not isinstance(members, list) or len(members) != 1 or not isinstance(members[0], Mapping):
            raise self.fail(path, "allOf with several schemas")
        member = {k: v for k, v in members[0].items() if k not in ANNOTATIONS}
        clash = set(member) & set(body)
        if clash:
            raise self.fail(path, f"allOf next to {sorted(clash)[0]!r}")
        return self._flatten({**body, **member}, path)

    def _only(self, body: Mapping[str, Any], allowed: set[str], path: str, context: str) -> None:
        for key in body:
            if key not in allowed:
                raise self.fail(path, f"{key!r}{context}")

    def _branch(self, body: dict[str, Any], path: str) -> dict[str, Any]:
        kind = body.get("type")
        if "$ref" in body:
            return self._ref(body, path)
        if "anyOf" in body or "oneOf" in body:
            return self._union(body, path)
        if isinstance(kind, list):
            self._only(body, {"type"}, path, " next to a list of types")
            return self._types(body, path)
        if kind is not None and kind not in TYPES:
            raise self.fail(path, f"type {kind!r}")
        if "const" in body or "enum" in body:
            self._only(body, {"type", "const", "enum"}, path, " next to const/enum")
            return dict(body)
        if kind in (None, "object") and ("properties" in body or "additionalProperties" in body):
            return self._object(body, path)
        if kind in (None, "array") and ("items" in body or "prefixItems" in body):
            return self._array(body, path)
        if kind in (None, "string") and ({"pattern", "format", "minLength", "maxLength"} & set(body)):
            return self._string(body, path)
        if kind is None:
            raise self.fail(path, f"{sorted(body)[0]!r} without a type")
        self._only(body, {"type"}, path, f" on type {kind!r}")
        return dict(body)

    def _ref(self, body: Mapping[str, Any], path: str) -> dict[str, Any]:
        self._only(body, {"$ref"}, path, " next to $ref")
        ref = body["$ref"]
        if not isinstance(ref, str) or not ref.startswith("#/"):
            raise self.fail(path, f"$ref {ref!r} (only local refs such as #/$defs/Name)")
        parts = ref[2:].split("/")
        if len(parts) >= 2 and parts[0] in _DEFS:
            parts[1] = self.prefix + parts[1]
        return {"$ref": "#/" + "/".join(parts)}

    def _union(self, body: Mapping[str, Any], path: str) -> dict[str, Any]:
        key = "anyOf" if "anyOf" in body else "oneOf"
        self._only(body, {key}, path, f" next to {key}")
        members = body[key]
        if not isinstance(members, list) or not members:
            raise self.fail(path, f"an empty {key}")
        return {key: [self.node(m, f"{path}.{key}[{i}]") for i, m in enumerate(members)]}

    def _types(self, body: Mapping[str, Any], path: str) -> dict[str, Any]:
        unknown = [t for t in body["type"] if t not in TYPES]
        if unknown or not body["type"]:
            raise self.fail(path, f"type {unknown[0] if unknown else []!r}")
        return dict(body)

    def _object(self, body: Mapping[str, Any], path: str) -> dict[str, Any]:
        self._only(body, _OBJECT, path, " on an object")
        props = body.get("properties", {})
        if not isinstance(props, Mapping):
            raise self.fail(path, "properties that are not an object")
        out: dict[str, Any] = {k: v for k, v in body.items() if k in ("type", "required")}
        out["properties"] = {n: self.node(s, f"{path}.properties.{n}") for n, s in props.items()}
        extra = body.get("additionalProperties")
        if isinstance(extra, Mapping):
            out["additionalProperties"] = self.node(extra, f"{path}.additionalProperties")
        elif extra is not None:
            out["additionalProperties"] = bool(extra)
        if not (extra is True or isinstance(extra, Mapping)):
            missing = [r for r in body.get("required", []) if r not in props]
            if missing:
                raise self.fail(path, f"required property {missing[0]!r} that is not in properties")
        return out

    def _array(self, body: Mapping[str, Any], path: str) -> dict[str, Any]:
        self._only(body, _ARRAY, path, " on an array")
        items, prefix = body.get("items"), body.get("prefixItems")
        tuple_items = prefix if prefix is not None else items if isinstance(items, list) else None
        if tuple_items is not None:
            if (prefix is not None and items not in (None, False)) or {"minItems", "maxItems"} & set(body):
                raise self.fail(path, "a tuple (prefixItems) with items, minItems or maxItems")
            cleaned = [self.node(s, f"{path}.prefixItems[{i}]") for i, s in enumerate(tuple_items)]
            return {"type": "array", "prefixItems": cleaned}
        out = {k: v for k, v in body.items() if k in ("type", "minItems", "maxItems")}
        out["items"] = self.node(items, f"{path}.items")
        return out

    def _string(self, body: Mapping[str, Any], path: str) -> dict[str, Any]:
        self._only(body, {"type", "pattern", "format", "minLength", "maxLength"}, path, " on a string")
        shaped = [k for k in ("pattern", "format") if k in body]
        if len(shaped) > 1 or (shaped and {"minLength", "maxLength"} & set(body)):
            raise self.fail(path, "pattern/format together with another string constraint")
        if "format" in body and body["format"] not in FORMATS:
            raise self.fail(path, f"format {body['format']!r}")
        if "pattern" in body:
            self._pattern(body["pattern"], path)
        if shaped or body.get("type") == "string":
            return dict(body)
        raise self.fail(path, "minLength/maxLength without type string")

    def _pattern(self, pattern: Any, path: str) -> None:
        if not isinstance(pattern, str) or not (pattern.startswith("^") and pattern.endswith("$")):
            raise self.fail(path, "a pattern not anchored with ^ and $")
        if "(?" in pattern:
            raise self.fail(path, "a pattern with (?...) groups or lookarounds")
        for match in _PATTERN_ESCAPE.finditer(pattern):
            if match.group(1) not in _GOOD_ESCAPES:
                raise self.fail(path, f"the pattern escape \\{match.group(1)} (use a class such as [0-9] or [.])")
