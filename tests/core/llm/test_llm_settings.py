"""The llm settings section and the key read from the environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.settings import load_settings
from core.errors import ConfigError


def test_without_a_key_there_is_no_model() -> None:
    settings = load_settings(env={})
    assert settings.llm_api_key is None
    assert settings.llm.model == "gpt-4o-mini"
    assert settings.llm.timeout_seconds == 3.0


def test_the_key_comes_from_openai_api_key() -> None:
    settings = load_settings(env={"OPENAI_API_KEY": "sk-abc"})
    assert settings.llm_api_key == "sk-abc"


def test_the_key_comes_from_the_configured_variable_only() -> None:
    env = {"SHOPBOT_LLM_API_KEY_ENV": "SHOP_LLM_KEY", "SHOP_LLM_KEY": "sk-shop"}
    assert load_settings(env=env).llm_api_key == "sk-shop"
    env = {"SHOPBOT_LLM_API_KEY_ENV": "SHOP_LLM_KEY", "OPENAI_API_KEY": "sk-other"}
    assert load_settings(env=env).llm_api_key is None


def test_an_empty_key_is_no_key() -> None:
    assert load_settings(env={"OPENAI_API_KEY": ""}).llm_api_key is None


def test_the_key_is_never_in_the_settings_repr_or_dump() -> None:
    settings = load_settings(env={"OPENAI_API_KEY": "sk-secret-value"})
    assert "sk-secret-value" not in repr(settings)
    assert "sk-secret-value" not in settings.model_dump_json()


def test_a_key_in_a_file_is_refused(tmp_path: Path) -> None:
    shop_file = tmp_path / "shop.yaml"
    shop_file.write_text("secrets:\n  openai_api_key: sk-in-a-file\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="secrets"):
        load_settings(shop_file, env={})


def test_environment_overrides_reach_the_llm_section() -> None:
    settings = load_settings(
        env={
            "SHOPBOT_LLM_BASE_URL": "http://localhost:11434/v1",
            "SHOPBOT_LLM_MODEL": "llama3.1",
            "SHOPBOT_LLM_CASCADE_THRESHOLD": "0.6",
        }
    )
    assert settings.llm.base_url == "http://localhost:11434/v1"
    assert settings.llm.model == "llama3.1"
    assert settings.llm.cascade_threshold == 0.6


def test_azure_needs_an_endpoint_and_reads_an_unquoted_api_version(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="azure_endpoint"):
        load_settings(env={"SHOPBOT_LLM_PROVIDER": "azure"})
    shop_file = tmp_path / "shop.yaml"
    shop_file.write_text(
        "llm:\n  provider: azure\n  azure_endpoint: https://shop.openai.azure.com\n"
        "  azure_api_version: 2024-06-01\n",
        encoding="utf-8",
    )
    assert load_settings(shop_file, env={}).llm.azure_api_version == "2024-06-01"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("SHOPBOT_LLM_PROVIDER", "anthropic"),
        ("SHOPBOT_LLM_TIMEOUT_SECONDS", "0"),
        ("SHOPBOT_LLM_CASCADE_THRESHOLD", "1.5"),
        ("SHOPBOT_LLM_API_KEY_ENV", "not a name"),
    ],
)
def test_bad_values_fail_at_start_naming_the_key(variable: str, value: str) -> None:
    key = variable.removeprefix("SHOPBOT_LLM_").lower()
    with pytest.raises(ConfigError, match=f"llm.{key}"):
        load_settings(env={variable: value})
