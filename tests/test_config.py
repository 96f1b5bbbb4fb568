"""Settings: environment > TOML > defaults, and clear errors for bad values."""

from pathlib import Path

import pytest

from bot.config import ConfigError, Settings, load_settings


def test_defaults_without_environment(tmp_path):
    s = load_settings({"TUNESMITH_DATA_DIR": str(tmp_path)})
    assert s.data_dir == tmp_path
    assert s.db_path == tmp_path / "tunesmith.sqlite3"
    assert s.job_timeout == Settings().job_timeout
    assert s.discord_token == ""


def test_environment_beats_toml_beats_defaults(tmp_path):
    (tmp_path / "tunesmith.toml").write_text("workers = 3\nqueue_cap = 7\nsharded = true\n")
    s = load_settings({"TUNESMITH_DATA_DIR": str(tmp_path), "TUNESMITH_WORKERS": "5"})
    assert s.workers == 5  # environment
    assert s.queue_cap == 7  # file
    assert s.sharded is True
    assert s.per_user_queued == Settings().per_user_queued  # default


def test_explicit_config_file(tmp_path):
    cfg = tmp_path / "elsewhere.toml"
    cfg.write_text('log_level = "debug"\n')
    assert load_settings({"TUNESMITH_CONFIG": str(cfg)}).log_level == "DEBUG"


@pytest.mark.parametrize(
    "env, words",
    [
        ({"TUNESMITH_WORKERS": "two"}, ["workers", "TUNESMITH_WORKERS", "whole number"]),
        ({"TUNESMITH_WORKERS": "0"}, ["workers", "out of range", "1 to 64"]),
        ({"TUNESMITH_JOB_TIMEOUT": "-5"}, ["job_timeout", "out of range"]),
        ({"TUNESMITH_SHARDED": "maybe"}, ["sharded", "true or false"]),
        ({"TUNESMITH_LOG_LEVEL": "loud"}, ["log_level", "DEBUG"]),
        ({"TUNESMITH_CONFIG": "/nonexistent/t.toml"}, ["does not exist"]),
    ],
)
def test_bad_values_name_the_setting(env, words):
    with pytest.raises(ConfigError) as err:
        load_settings(env)
    for word in words:
        assert word in str(err.value)


def test_bad_toml(tmp_path):
    (tmp_path / "tunesmith.toml").write_text("workers = [\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings({"TUNESMITH_DATA_DIR": str(tmp_path)})
    (tmp_path / "tunesmith.toml").write_text("wokers = 2\n")
    with pytest.raises(ConfigError, match="unknown setting 'wokers'"):
        load_settings({"TUNESMITH_DATA_DIR": str(tmp_path)})
    (tmp_path / "tunesmith.toml").write_text('discord_token = "x"\n')
    with pytest.raises(ConfigError, match="DISCORD_TOKEN"):
        load_settings({"TUNESMITH_DATA_DIR": str(tmp_path)})


def test_token_is_masked():
    s = load_settings({"DISCORD_TOKEN": "MTIz.secret.token"})
    assert s.discord_token == "MTIz.secret.token"
    assert "secret" not in repr(s)
    assert "secret" not in str(s.masked())


def test_env_example_lists_every_setting():
    text = (Path(__file__).parent.parent / ".env.example").read_text()
    from dataclasses import fields

    from bot.config import env_name

    for f in fields(Settings):
        assert f"\n{env_name(f.name)}=" in text, f"{env_name(f.name)} missing from .env.example"
