"""Settings: YAML defaults, environment overrides, flags, secrets, and errors naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.settings import load_settings
from core.errors import ConfigError


def test_defaults_are_embedded_and_need_no_keys() -> None:
    settings = load_settings(env={})
    assert settings.server.port == 8080
    assert settings.database_url.startswith("sqlite+aiosqlite:///")
    assert settings.demo_database_path == Path("var") / "demo_shop.sqlite3"
    assert settings.secrets.api_token is None
    assert settings.dialogue.max_clarifications == 2


def test_environment_overrides_and_flags_win_in_order(tmp_path: Path) -> None:
    shop_file = tmp_path / "shop.yaml"
    shop_file.write_text("server:\n  port: 9001\n  max_text_chars: 500\n", encoding="utf-8")
    env = {"SHOPBOT_SERVER_PORT": "9002", "SHOPBOT_STORAGE_URL": "postgresql+asyncpg://x/y"}
    settings = load_settings(shop_file, env=env)
    assert settings.server.port == 9002  # environment beats the file
    assert settings.server.max_text_chars == 500  # the file beats the defaults
    assert settings.database_url == "postgresql+asyncpg://x/y"
    assert load_settings(shop_file, env=env, server={"port": 9003}).server.port == 9003


def test_secrets_come_only_from_the_environment(tmp_path: Path) -> None:
    assert load_settings(env={"SHOPBOT_API_TOKEN": "s3cret"}).secrets.api_token == "s3cret"
    shop_file = tmp_path / "shop.yaml"
    shop_file.write_text("secrets:\n  api_token: leaked\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="secrets"):
        load_settings(shop_file, env={})


@pytest.mark.parametrize(
    ("env", "key"),
    [
        ({"SHOPBOT_SERVER_PORT": "eighty"}, "server.port"),
        ({"SHOPBOT_SERVER_PORT": "70000"}, "server.port"),
        ({"SHOPBOT_DIALOGUE_MAX_CLARIFICATIONS": "-1"}, "dialogue.max_clarifications"),
        ({"SHOPBOT_CRM_ADAPTER": "magento"}, "crm.adapter"),
        ({"SHOPBOT_NLU_THRESHOLD": "1.5"}, "nlu.threshold"),
    ],
)
def test_a_bad_value_names_its_key(env: dict[str, str], key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(env=env)
    assert caught.value.key == key


def test_an_unknown_key_in_a_file_is_refused(tmp_path: Path) -> None:
    shop_file = tmp_path / "shop.yaml"
    shop_file.write_text("server:\n  prot: 9000\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"server\.prot"):
        load_settings(shop_file, env={})


def test_a_file_that_is_not_yaml_is_refused(tmp_path: Path) -> None:
    shop_file = tmp_path / "shop.yaml"
    shop_file.write_text("server: [unclosed\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_settings(shop_file, env={})


def test_every_setting_is_documented_in_the_readme_and_the_defaults_file() -> None:
    from config.settings import CONFIG_DIR, Settings

    readme = (CONFIG_DIR.parent / "README.md").read_text(encoding="utf-8")
    defaults = (CONFIG_DIR / "shopbot.yaml").read_text(encoding="utf-8")
    for name, info in Settings.model_fields.items():
        if name == "secrets":
            continue
        section = info.annotation
        keys = (
            [f"{name}.{key}" for key in section.model_fields]
            if isinstance(section, type) and hasattr(section, "model_fields")
            else [name]
        )
        for key in keys:
            env = "SHOPBOT_" + key.replace(".", "_").upper()
            assert f"| `{key}` | `{env}` |" in readme, f"{key} missing from the README's table"
            assert f"{key.rsplit('.', 1)[-1]}:" in defaults, f"{key} missing from shopbot.yaml"
