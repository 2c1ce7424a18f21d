"""Export profiles: the built-in td010v2, user TOML files, inheritance and the errors they give."""

from __future__ import annotations

from pathlib import Path

import pytest

from export.profiles import QWEN25_TEMPLATE, builtin_profiles, get_profile, load_profiles
from synapse.errors import SynapseError
from synapse.paths import default_data_dir


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_builtin_td010v2(isolated_env: Path) -> None:
    profile = builtin_profiles()["td010v2"]
    assert profile.base == "Qwen/Qwen2.5-1.5B-Instruct"
    assert profile.adapter == str(default_data_dir() / "adapters" / "td010v2")
    assert profile.adapter.startswith(str(isolated_env / "xdg-data"))
    assert profile.quant == "Q4_K_M"
    assert profile.ollama_name == "triz-td010v2-q4km"
    assert profile.stop == ["<|im_end|>", "<|endoftext|>"]
    assert profile.num_ctx == 4096
    assert profile.temperature == 0.3
    assert profile.system_lang == "ru"
    assert "ТРИЗ" in profile.system["ru"] and "TRIZ" in profile.system["en"]
    assert profile.system_text == profile.system["ru"]
    assert profile.template == QWEN25_TEMPLATE
    assert profile.ollama_parameters() == {"stop": ["<|im_end|>", "<|endoftext|>"], "num_ctx": 4096, "temperature": 0.3}


def test_no_user_file_gives_the_builtins() -> None:
    assert set(load_profiles()) == {"td010v2"}


def test_user_file_adds_and_extends(tmp_path: Path) -> None:
    user = write(
        tmp_path / "profiles.toml",
        """
[profiles.mine]
description = "my own model"
base = "/models/qwen"
adapter = "/adapters/mine"
ollama_name = "me/mine:latest"
system_lang = "en"
num_ctx = 8192

[profiles.td010v2-q8]
extends = "td010v2"
quant = "Q8_0"

[profiles.td010v2-q8.system]
en = "Short English prompt."
""",
    )
    profiles = load_profiles(user)
    assert set(profiles) == {"td010v2", "mine", "td010v2-q8"}

    mine = profiles["mine"]
    assert (mine.name, mine.base, mine.adapter) == ("mine", "/models/qwen", "/adapters/mine")
    assert mine.ollama_name == "me/mine:latest"
    assert mine.num_ctx == 8192 and mine.quant == "Q4_K_M"
    assert "TRIZ" in mine.system_text  # the default prompt, in the chosen language

    q8 = profiles["td010v2-q8"]
    td = profiles["td010v2"]
    assert q8.quant == "Q8_0"
    assert (q8.base, q8.adapter, q8.stop, q8.template) == (td.base, td.adapter, td.stop, td.template)
    # A new name and quantization give a new Ollama model, never an overwrite of the parent's.
    assert q8.ollama_name == "triz-td010v2-q8-q80"
    assert q8.system["en"] == "Short English prompt." and q8.system["ru"] == td.system["ru"]


def test_redefining_a_builtin_adjusts_it(tmp_path: Path) -> None:
    user = write(tmp_path / "p.toml", '[profiles.td010v2]\nadapter = "~/adapters/td"\n')
    td = get_profile("td010v2", user)
    assert td.adapter == str(Path("~/adapters/td").expanduser())
    assert td.ollama_name == "triz-td010v2-q4km" and td.quant == "Q4_K_M"


def test_env_var_names_the_user_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    user = write(tmp_path / "env.toml", '[profiles.envy]\nextends = "td010v2"\n')
    monkeypatch.setenv("SYNAPSE_EXPORT_PROFILES", str(user))
    assert "envy" in load_profiles()


def test_dotenv_names_the_user_file(isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    user = write(isolated_env / "dotenv.toml", '[profiles.dotty]\nextends = "td010v2"\n')
    (isolated_env / ".env").write_text(f"SYNAPSE_EXPORT_PROFILES={user}\n", encoding="utf-8")
    assert "dotty" in load_profiles()
    # The environment still wins over `.env`, and an empty value means "not set".
    monkeypatch.setenv("SYNAPSE_EXPORT_PROFILES", "")
    assert "dotty" not in load_profiles()


def test_empty_env_var_falls_back_to_the_data_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYNAPSE_EXPORT_PROFILES", "")
    default_data_dir().mkdir(parents=True)
    write(default_data_dir() / "export_profiles.toml", '[profiles.local]\nextends = "td010v2"\n')
    assert get_profile("local").ollama_name == "triz-local-q4km"


def test_default_user_file_in_the_data_dir() -> None:
    default_data_dir().mkdir(parents=True)
    write(default_data_dir() / "export_profiles.toml", '[profiles.local]\nextends = "td010v2"\n')
    assert get_profile("local").ollama_name == "triz-local-q4km"


def test_malformed_toml_names_the_file(tmp_path: Path) -> None:
    user = write(tmp_path / "broken.toml", "[profiles.x\nquant = Q4\n")
    with pytest.raises(SynapseError) as err:
        load_profiles(user)
    assert str(user) in err.value.message and "TOML" in err.value.message
    assert err.value.hint and "[profiles.NAME]" in err.value.hint


def test_invalid_quant_names_file_profile_and_field(tmp_path: Path) -> None:
    user = write(tmp_path / "bad.toml", '[profiles.fast]\nextends = "td010v2"\nquant = "Q3_K_S"\n')
    with pytest.raises(SynapseError) as err:
        load_profiles(user)
    message = err.value.message
    assert str(user) in message and "'fast'" in message and "'quant'" in message
    assert err.value.hint and "Q4_K_M" in err.value.hint
    assert err.value.exit_code == 2


def test_unknown_field_is_refused_with_the_known_ones(tmp_path: Path) -> None:
    user = write(tmp_path / "typo.toml", '[profiles.t]\nextends = "td010v2"\nnum_context = 8192\n')
    with pytest.raises(SynapseError, match="num_context") as err:
        load_profiles(user)
    assert err.value.hint and "num_ctx" in err.value.hint


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ('[profiles.a]\nextends = "nowhere"\n', "unknown profile 'nowhere'"),
        ('[profiles.a]\nextends = "b"\n[profiles.b]\nextends = "a"\n', "loop"),
        ('[profiles.a]\nextends = "td010v2"\nnum_ctx = 100\n', "'num_ctx'"),
        ('[profiles.a]\nextends = "td010v2"\nsystem_lang = "de"\n', "'system_lang'"),
        ('[profiles.a]\nollama_name = "bad name!"\n', "'ollama_name'"),
        ('title = "x"\n', "unexpected top-level"),
    ],
)
def test_bad_profiles_are_refused(tmp_path: Path, body: str, fragment: str) -> None:
    user = write(tmp_path / "p.toml", body)
    with pytest.raises(SynapseError, match=fragment):
        load_profiles(user)


def test_missing_user_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SynapseError, match="cannot read"):
        load_profiles(tmp_path / "absent.toml")


def test_unknown_profile_lists_known_names(tmp_path: Path) -> None:
    user = write(tmp_path / "p.toml", '[profiles.other]\nextends = "td010v2"\n')
    with pytest.raises(SynapseError, match="unknown export profile") as err:
        get_profile("td011", user)
    assert err.value.hint and "td010v2" in err.value.hint and "other" in err.value.hint
