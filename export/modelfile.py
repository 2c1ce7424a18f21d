"""The Ollama Modelfile of an exported model: rendering it and writing it without half-written files."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from export.errors import ModelfileError
from export.profiles import ExportProfile

_SPACE = (" ", "\t", "\r", "\n")


def modelfile_filename(profile: ExportProfile) -> str:
    """The file name of a profile's Modelfile, e.g. `triz-td010v2-q4km.Modelfile`."""
    # Namespaced or tagged Ollama names ("me/model:tag") must not turn into folders.
    return profile.ollama_name.replace("/", "-").replace(":", "-") + ".Modelfile"


def render_modelfile(profile: ExportProfile, gguf_path: str, adapter_path: str | None = None) -> str:
    """The Modelfile text: FROM, optional ADAPTER, TEMPLATE, SYSTEM and the PARAMETER lines."""
    lines = [
        f"# {profile.ollama_name}: export profile {profile.name!r} ({profile.quant}), written by synapse export.",
        f"# Register by hand with: ollama create {profile.ollama_name} -f {modelfile_filename(profile)}",
        f"FROM {_value(gguf_path, 'FROM')}",
    ]
    if adapter_path is not None:
        lines.append(f"ADAPTER {_value(adapter_path, 'ADAPTER')}")
    lines.append(f"TEMPLATE {_block(profile.template, 'TEMPLATE', profile)}")
    lines.append(f"SYSTEM {_block(profile.system_text, 'SYSTEM', profile)}")
    for stop in profile.stop:
        lines.append(f"PARAMETER stop {_quoted(stop, 'PARAMETER stop', profile)}")
    for name, value in profile.ollama_parameters().items():
        if name != "stop":
            lines.append(f"PARAMETER {name} {value!r}")
    return "\n".join(lines) + "\n"


def write_modelfile(path: Path, text: str) -> Path:
    """Write a Modelfile atomically: a temporary file in the same folder, then a rename over the target."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        # newline="\n": a CR written on Windows would end up inside the TEMPLATE and SYSTEM texts.
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    return path


def _value(text: str, command: str) -> str:
    """A single-line argument (a path): bare when it has no blanks, quoted when it has."""
    if not any(ch in text for ch in _SPACE) and not text.startswith('"'):
        return text
    quoted = f'"{text}"'
    if not _reads_back(quoted, text):
        raise ModelfileError(
            f"the {command} path {text!r} cannot be written into a Modelfile",
            "use a path without double quotes",
        )
    return quoted


def _block(text: str, command: str, profile: ExportProfile) -> str:
    """A multi-line argument in triple quotes, refused when Ollama's parser would end it early."""
    # The Modelfile format has no escape for this, so the only safe answer is to refuse.
    return _checked(
        f'"""{text}"""',
        text,
        f"the {command} text of export profile {profile.name!r} contains three double quotes "
        "followed by a blank, which would end the Modelfile block early",
        'change the """ in that text (for instance to three single quotes)',
    )


def _quoted(text: str, command: str, profile: ExportProfile) -> str:
    """A short argument in double quotes (a stop string), refused when it cannot be read back."""
    return _checked(
        f'"{text}"',
        text,
        f"the {command} value {text!r} of export profile {profile.name!r} cannot be written into a Modelfile",
        "avoid a double quote followed by a blank in stop strings",
    )


def _checked(quoted: str, text: str, message: str, hint: str) -> str:
    """`quoted` if Ollama's parser reads it back as `text`, else a ModelfileError."""
    if not _reads_back(quoted, text):
        raise ModelfileError(message, hint)
    return quoted


def _unquote(text: str) -> tuple[str, bool]:
    """Ollama's reading of a value: strip one pair of triple or single double quotes when complete."""
    if text.startswith('"""'):
        return (text[3:-3], True) if len(text) >= 6 and text.endswith('"""') else ("", False)
    if text.startswith('"'):
        return (text[1:-1], True) if len(text) >= 2 and text.endswith('"') else ("", False)
    return text, True


def _reads_back(quoted: str, text: str) -> bool:
    """Whether Ollama's Modelfile parser reads `quoted` back as exactly `text`.

    The parser ends a value at the first blank or line break where the text so far, trimmed, is a
    complete quoted value; a value is safe when that happens only at its very end.
    """
    for index, char in enumerate(quoted):
        if char in _SPACE and _unquote(quoted[:index].strip())[1]:
            return False
    return _unquote(quoted.strip()) == (text, True)
