"""Kafka and Cassandra security settings: the client config they build, their validation, and that a
secret never shows in a repr, a log line or an error."""

from __future__ import annotations

import logging
import pickle
from pathlib import Path

import pytest

from persona.settings import PipelineSettings, SettingsError
from persona.settings.secret import REDACTED, Secret
from persona.settings.security import CassandraSecurity, KafkaSecurity

PASSWORD = "s3cr3t-Pa55-never-seen"

SASL_SSL = {
    "PERSONA_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
    "PERSONA_KAFKA_SASL_USERNAME": "persona",
    "PERSONA_KAFKA_SASL_PASSWORD": PASSWORD,
}


def test_plaintext_by_default_adds_nothing_to_a_client() -> None:
    security = KafkaSecurity.from_env({})
    assert security.client_config() == {}
    assert security.effective_protocol == "PLAINTEXT"


def test_sasl_ssl_builds_the_confluent_kafka_config(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    env = {
        **SASL_SSL,
        "PERSONA_KAFKA_SASL_MECHANISM": "scram-sha-256",
        "PERSONA_KAFKA_SSL_CA_LOCATION": str(ca),
    }
    assert KafkaSecurity.from_env(env).client_config() == {
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "SCRAM-SHA-256",
        "sasl.username": "persona",
        "sasl.password": PASSWORD,
        "ssl.ca.location": str(ca),
    }


def test_sasl_defaults_to_scram_sha_512() -> None:
    assert KafkaSecurity.from_env(SASL_SSL).client_config()["sasl.mechanism"] == "SCRAM-SHA-512"


def test_the_password_can_come_from_a_file_without_its_trailing_newline(tmp_path: Path) -> None:
    secret_file = tmp_path / "password"
    secret_file.write_text(PASSWORD + "\n")
    env = {
        **SASL_SSL,
        "PERSONA_KAFKA_SASL_PASSWORD": "",
        "PERSONA_KAFKA_SASL_PASSWORD_FILE": str(secret_file),
    }
    assert KafkaSecurity.from_env(env).client_config()["sasl.password"] == PASSWORD


def test_password_and_password_file_together_are_refused(tmp_path: Path) -> None:
    secret_file = tmp_path / "password"
    secret_file.write_text("other")
    with pytest.raises(SettingsError) as error:
        KafkaSecurity.from_env({**SASL_SSL, "PERSONA_KAFKA_SASL_PASSWORD_FILE": str(secret_file)})
    assert "PERSONA_KAFKA_SASL_PASSWORD and PERSONA_KAFKA_SASL_PASSWORD_FILE are both set" in str(error.value)
    assert PASSWORD not in str(error.value)


def test_an_unreadable_password_file_is_named_with_its_path(tmp_path: Path) -> None:
    missing = tmp_path / "nope" / "password"
    with pytest.raises(
        SettingsError, match=r"PERSONA_KAFKA_SASL_PASSWORD_FILE names a file that cannot be read"
    ):
        KafkaSecurity.from_env(
            {**SASL_SSL, "PERSONA_KAFKA_SASL_PASSWORD": "", "PERSONA_KAFKA_SASL_PASSWORD_FILE": str(missing)}
        )


def test_an_undecodable_password_file_error_does_not_quote_its_bytes(tmp_path: Path) -> None:
    secret_file = tmp_path / "password"
    secret_file.write_bytes(b"\xff\xfe" + PASSWORD.encode())
    with pytest.raises(SettingsError) as error:
        CassandraSecurity.from_env(
            {"PERSONA_CASSANDRA_USERNAME": "u", "PERSONA_CASSANDRA_PASSWORD_FILE": str(secret_file)}
        )
    assert str(secret_file) in str(error.value)
    assert "PERSONA_CASSANDRA_PASSWORD_FILE" in str(error.value)
    assert PASSWORD not in str(error.value) and "xff" not in str(error.value)


def test_an_empty_password_file_is_refused(tmp_path: Path) -> None:
    secret_file = tmp_path / "password"
    secret_file.write_text("\n")
    with pytest.raises(SettingsError, match="names an empty file"):
        KafkaSecurity.from_env(
            {
                **SASL_SSL,
                "PERSONA_KAFKA_SASL_PASSWORD": "",
                "PERSONA_KAFKA_SASL_PASSWORD_FILE": str(secret_file),
            }
        )


@pytest.mark.parametrize(
    ("missing", "named"),
    [
        ("PERSONA_KAFKA_SASL_USERNAME", "needs PERSONA_KAFKA_SASL_USERNAME"),
        (
            "PERSONA_KAFKA_SASL_PASSWORD",
            "needs PERSONA_KAFKA_SASL_PASSWORD or PERSONA_KAFKA_SASL_PASSWORD_FILE",
        ),
    ],
)
def test_sasl_without_credentials_is_refused(missing: str, named: str) -> None:
    env = {k: v for k, v in SASL_SSL.items() if k != missing}
    with pytest.raises(SettingsError, match=named):
        KafkaSecurity.from_env(env)


def test_credentials_without_a_sasl_protocol_are_refused() -> None:
    env = {k: v for k, v in SASL_SSL.items() if k != "PERSONA_KAFKA_SECURITY_PROTOCOL"}
    with pytest.raises(SettingsError, match=r"PERSONA_KAFKA_SASL_USERNAME is set but .* is PLAINTEXT"):
        KafkaSecurity.from_env(env)


def test_a_ca_without_a_tls_protocol_is_refused(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("x")
    with pytest.raises(SettingsError, match=r"PERSONA_KAFKA_SSL_CA_LOCATION is set but .* is SASL_PLAINTEXT"):
        KafkaSecurity.from_env(
            {
                **SASL_SSL,
                "PERSONA_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
                "PERSONA_KAFKA_SSL_CA_LOCATION": str(ca),
            }
        )


def test_an_unreadable_ca_is_named_with_its_path(tmp_path: Path) -> None:
    ca = tmp_path / "missing-ca.pem"
    with pytest.raises(SettingsError, match=f"PERSONA_KAFKA_SSL_CA_LOCATION .* {ca}"):
        KafkaSecurity.from_env({**SASL_SSL, "PERSONA_KAFKA_SSL_CA_LOCATION": str(ca)})


def test_a_client_cert_needs_its_key(tmp_path: Path) -> None:
    cert = tmp_path / "client.pem"
    cert.write_text("x")
    with pytest.raises(SettingsError, match="go together"):
        KafkaSecurity.from_env(
            {"PERSONA_KAFKA_SECURITY_PROTOCOL": "SSL", "PERSONA_KAFKA_SSL_CERT_LOCATION": str(cert)}
        )


def test_an_unknown_protocol_or_mechanism_is_refused() -> None:
    with pytest.raises(SettingsError, match="PERSONA_KAFKA_SECURITY_PROTOCOL is not one of"):
        KafkaSecurity.from_env({"PERSONA_KAFKA_SECURITY_PROTOCOL": "TLS"})
    with pytest.raises(SettingsError, match="PERSONA_KAFKA_SASL_MECHANISM is not one of"):
        KafkaSecurity.from_env({**SASL_SSL, "PERSONA_KAFKA_SASL_MECHANISM": "GSSAPI"})


def test_the_config_file_is_merged_under_the_explicit_settings(tmp_path: Path) -> None:
    config = tmp_path / "client.properties"
    config.write_text(
        "# a comment\n\nsecurity.protocol=SASL_PLAINTEXT\nsasl.username=from-file\n"
        f"sasl.password={PASSWORD}\nssl.endpoint.identification.algorithm = none\n"
    )
    from_file = KafkaSecurity.from_env({"PERSONA_KAFKA_CONFIG_FILE": str(config)})
    assert from_file.client_config() == {
        "security.protocol": "SASL_PLAINTEXT",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": "from-file",
        "sasl.password": PASSWORD,
        "ssl.endpoint.identification.algorithm": "none",
    }
    overridden = KafkaSecurity.from_env(
        {**SASL_SSL, "PERSONA_KAFKA_SASL_PASSWORD": "explicit", "PERSONA_KAFKA_CONFIG_FILE": str(config)}
    )
    assert overridden.client_config()["security.protocol"] == "SASL_SSL"
    assert overridden.client_config()["sasl.username"] == "persona"
    assert overridden.client_config()["sasl.password"] == "explicit"
    assert PASSWORD not in repr(from_file) and PASSWORD not in from_file.describe()


def test_a_malformed_config_line_is_named_by_number_never_quoted(tmp_path: Path) -> None:
    config = tmp_path / "client.properties"
    config.write_text(f"security.protocol=SSL\n{PASSWORD}\n")
    with pytest.raises(SettingsError) as error:
        KafkaSecurity.from_env({"PERSONA_KAFKA_CONFIG_FILE": str(config)})
    assert str(error.value) == f"PERSONA_KAFKA_CONFIG_FILE: line 2 of {config} is not key=value"


def test_cassandra_credentials_and_no_tls_without_a_ca(tmp_path: Path) -> None:
    secret_file = tmp_path / "password"
    secret_file.write_text(PASSWORD)
    security = CassandraSecurity.from_env(
        {"PERSONA_CASSANDRA_USERNAME": "persona", "PERSONA_CASSANDRA_PASSWORD_FILE": str(secret_file)}
    )
    assert security.credentials() == ("persona", PASSWORD)
    assert security.ssl_context() is None
    assert CassandraSecurity.from_env({}).credentials() is None


@pytest.mark.parametrize(
    "env",
    [
        {"PERSONA_CASSANDRA_USERNAME": "persona"},
        {"PERSONA_CASSANDRA_PASSWORD": PASSWORD},
    ],
)
def test_cassandra_user_and_password_go_together(env: dict[str, str]) -> None:
    with pytest.raises(SettingsError, match="go together") as error:
        CassandraSecurity.from_env(env)
    assert PASSWORD not in str(error.value)


def test_cassandra_client_cert_needs_a_ca(tmp_path: Path) -> None:
    pem = tmp_path / "x.pem"
    pem.write_text("x")
    with pytest.raises(SettingsError, match="without PERSONA_CASSANDRA_SSL_CA"):
        CassandraSecurity.from_env(
            {"PERSONA_CASSANDRA_SSL_CERT": str(pem), "PERSONA_CASSANDRA_SSL_KEY": str(pem)}
        )


def test_a_ca_that_is_no_certificate_fails_with_a_settings_error(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text(PASSWORD)
    security = CassandraSecurity.from_env({"PERSONA_CASSANDRA_SSL_CA": str(ca)})
    with pytest.raises(SettingsError) as error:
        security.ssl_context()
    assert str(ca) in str(error.value) and PASSWORD not in str(error.value)


def test_a_secret_never_shows_in_repr_str_format_logs_or_pickles(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    env = {**SASL_SSL, "PERSONA_CASSANDRA_USERNAME": "persona", "PERSONA_CASSANDRA_PASSWORD": PASSWORD}
    settings = PipelineSettings.from_env(env)
    assert settings.kafka_security.client_config()["sasl.password"] == PASSWORD
    assert settings.cassandra_security.credentials() == ("persona", PASSWORD)
    secret = settings.cassandra_security.password
    assert isinstance(secret, Secret)
    shown = [repr(settings), str(settings), repr(secret), str(secret), f"{secret}", f"{secret:>30}"]
    shown += [settings.kafka_security.describe(), settings.cassandra_security.describe()]
    log = logging.getLogger("persona.test_security")
    with caplog.at_level(logging.DEBUG, logger="persona"):
        log.info("settings %s %r", settings, settings)
        log.info("password %s", secret)
        log.info("kafka %s", settings.kafka_security.describe())
    shown.append(caplog.text)
    for text in shown:
        assert PASSWORD not in text
    assert REDACTED in repr(settings)
    assert caplog.text.count(REDACTED) >= 3
    with pytest.raises(TypeError, match="not pickled"):
        pickle.dumps(settings.kafka_security)


def test_secrets_compare_by_value() -> None:
    assert Secret("a") == Secret("a")
    assert Secret("a") != Secret("b")
