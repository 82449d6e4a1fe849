"""Kafka and Cassandra client security: SASL/TLS for every Kafka client, auth and TLS for Cassandra.

Read once at an entry point (``KafkaSecurity.from_env``, ``CassandraSecurity.from_env``) from the
settings the registry declares; every client persona builds gets :meth:`KafkaSecurity.client_config`
or :meth:`CassandraSecurity.credentials` / :meth:`CassandraSecurity.ssl_context`.

Secret values (passwords, and every value of ``PERSONA_KAFKA_CONFIG_FILE``, which may hold one) are
kept in :class:`Secret`, whose ``repr``/``str`` are redacted: a settings object can be logged or end
up in a traceback without leaking them. Errors name the setting and the file's path, never a value
read from a secret or a file.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from persona.settings.registry import (
    CASSANDRA_PASSWORD,
    CASSANDRA_PASSWORD_FILE,
    CASSANDRA_SSL_CA,
    CASSANDRA_SSL_CERT,
    CASSANDRA_SSL_KEY,
    CASSANDRA_USERNAME,
    KAFKA_CONFIG_FILE,
    KAFKA_SASL_MECHANISM,
    KAFKA_SASL_PASSWORD,
    KAFKA_SASL_PASSWORD_FILE,
    KAFKA_SASL_USERNAME,
    KAFKA_SECURITY_PROTOCOL,
    KAFKA_SSL_CA_LOCATION,
    KAFKA_SSL_CERT_LOCATION,
    KAFKA_SSL_KEY_LOCATION,
)
from persona.settings.secret import Secret
from persona.settings.setting import Setting, SettingsError

SASL_PROTOCOLS = frozenset({"SASL_PLAINTEXT", "SASL_SSL"})
TLS_PROTOCOLS = frozenset({"SSL", "SASL_SSL"})
# librdkafka's default (GSSAPI) needs Kerberos, which persona does not set up: SASL means SCRAM
# unless the mechanism is named.
DEFAULT_SASL_MECHANISM = "SCRAM-SHA-512"

__all__ = ["CassandraSecurity", "KafkaSecurity", "Secret", "read_properties", "read_secret_file"]


def read_secret_file(setting: Setting[Path | None], path: Path) -> Secret:
    """The content of a password file (one trailing newline dropped), as a :class:`Secret`."""
    try:
        content = path.read_text()
    except (OSError, UnicodeDecodeError) as error:
        raise SettingsError(
            f"{setting.name} names a file that cannot be read: {path} ({_why(error)})"
        ) from None
    value = content.removesuffix("\n").removesuffix("\r")
    if not value:
        raise SettingsError(f"{setting.name} names an empty file: {path}")
    return Secret(value)


def read_properties(setting: Setting[Path | None], path: Path) -> dict[str, Secret]:
    """librdkafka properties (``key=value`` lines, ``#`` comments) with every value kept secret.

    A malformed line is reported by its number only: the line may hold a password.
    """
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as error:
        raise SettingsError(
            f"{setting.name} names a file that cannot be read: {path} ({_why(error)})"
        ) from None
    properties: dict[str, Secret] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        key, sep, value = stripped.partition("=")
        if not sep or not key.strip():
            raise SettingsError(f"{setting.name}: line {number} of {path} is not key=value")
        properties[key.strip()] = Secret(value.strip())
    return properties


def _why(error: BaseException) -> str:
    # strerror ("Permission denied") and never str(error): a decode error quotes the file's bytes.
    if isinstance(error, OSError):
        return error.strerror or type(error).__name__
    return "not UTF-8 text"


def _check_readable(setting: Setting[Path | None], path: Path | None) -> None:
    if path is None:
        return
    try:
        with path.open("rb"):
            pass
    except OSError as error:
        raise SettingsError(
            f"{setting.name} names a file that cannot be read: {path} ({_why(error)})"
        ) from None


def _password(
    env: Mapping[str, str], value: Setting[Secret | None], file: Setting[Path | None]
) -> Secret | None:
    given, path = value.given(env), file.given(env)
    if given is not None and path is not None:
        raise SettingsError(f"{value.name} and {file.name} are both set: set one of them")
    return read_secret_file(file, path) if path is not None else given


@dataclass(frozen=True, kw_only=True)
class KafkaSecurity:
    """The security part of every Kafka client's config. ``None``: not given (librdkafka's default,
    or the config file's value); ``file_config`` is ``PERSONA_KAFKA_CONFIG_FILE``'s properties."""

    protocol: str | None = None
    sasl_mechanism: str | None = None
    sasl_username: str | None = None
    sasl_password: Secret | None = None
    ssl_ca_location: Path | None = None
    ssl_cert_location: Path | None = None
    ssl_key_location: Path | None = None
    file_config: Mapping[str, Secret] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._validate()

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> KafkaSecurity:
        """Read the ``PERSONA_KAFKA_*`` security settings (and the files they name) from ``env``."""
        config_file = KAFKA_CONFIG_FILE.given(env)
        ca, cert, key = (
            s.given(env) for s in (KAFKA_SSL_CA_LOCATION, KAFKA_SSL_CERT_LOCATION, KAFKA_SSL_KEY_LOCATION)
        )
        for setting, path in (
            (KAFKA_SSL_CA_LOCATION, ca),
            (KAFKA_SSL_CERT_LOCATION, cert),
            (KAFKA_SSL_KEY_LOCATION, key),
        ):
            _check_readable(setting, path)
        return cls(
            protocol=KAFKA_SECURITY_PROTOCOL.given(env),
            sasl_mechanism=KAFKA_SASL_MECHANISM.given(env),
            sasl_username=KAFKA_SASL_USERNAME.given(env),
            sasl_password=_password(env, KAFKA_SASL_PASSWORD, KAFKA_SASL_PASSWORD_FILE),
            ssl_ca_location=ca,
            ssl_cert_location=cert,
            ssl_key_location=key,
            file_config=read_properties(KAFKA_CONFIG_FILE, config_file) if config_file else {},
        )

    def _file(self, key: str) -> str | None:
        value = self.file_config.get(key)
        return value.reveal() if value is not None else None

    @property
    def effective_protocol(self) -> str:
        return (self.protocol or self._file("security.protocol") or "PLAINTEXT").upper()

    def _validate(self) -> None:
        protocol = self.effective_protocol
        if protocol in SASL_PROTOCOLS:
            if not (self.sasl_username or self._file("sasl.username")):
                raise SettingsError(
                    f"{KAFKA_SECURITY_PROTOCOL.name} is {protocol}, which needs {KAFKA_SASL_USERNAME.name}"
                )
            if self.sasl_password is None and self._file("sasl.password") is None:
                raise SettingsError(
                    f"{KAFKA_SECURITY_PROTOCOL.name} is {protocol}, which needs "
                    f"{KAFKA_SASL_PASSWORD.name} or {KAFKA_SASL_PASSWORD_FILE.name}"
                )
        else:
            # Credentials given for a protocol that would not send them are a mistake that would
            # otherwise show only as "connection refused" (or, worse, work in plaintext).
            for setting, value in (
                (KAFKA_SASL_USERNAME, self.sasl_username),
                (KAFKA_SASL_PASSWORD, self.sasl_password),
                (KAFKA_SASL_MECHANISM, self.sasl_mechanism),
            ):
                if value is not None:
                    raise SettingsError(
                        f"{setting.name} is set but {KAFKA_SECURITY_PROTOCOL.name} is {protocol}: "
                        "use SASL_SSL or SASL_PLAINTEXT"
                    )
        if protocol not in TLS_PROTOCOLS:
            for tls_setting, path in (
                (KAFKA_SSL_CA_LOCATION, self.ssl_ca_location),
                (KAFKA_SSL_CERT_LOCATION, self.ssl_cert_location),
                (KAFKA_SSL_KEY_LOCATION, self.ssl_key_location),
            ):
                if path is not None:
                    raise SettingsError(
                        f"{tls_setting.name} is set but {KAFKA_SECURITY_PROTOCOL.name} is {protocol}: use SSL or SASL_SSL"
                    )
        if (self.ssl_cert_location is None) != (self.ssl_key_location is None):
            raise SettingsError(
                f"{KAFKA_SSL_CERT_LOCATION.name} and {KAFKA_SSL_KEY_LOCATION.name} go together: set both or neither"
            )

    def client_config(self) -> dict[str, str]:
        """librdkafka properties for a confluent-kafka client: the config file's, under the settings
        given explicitly. Holds the password in clear: hand it to a client, never to a log."""
        config = {key: value.reveal() for key, value in self.file_config.items()}
        if self.protocol is not None:
            config["security.protocol"] = self.protocol
        if self.effective_protocol in SASL_PROTOCOLS:
            mechanism = self.sasl_mechanism or config.get("sasl.mechanism") or DEFAULT_SASL_MECHANISM
            config["sasl.mechanism"] = mechanism
        if self.sasl_username is not None:
            config["sasl.username"] = self.sasl_username
        if self.sasl_password is not None:
            config["sasl.password"] = self.sasl_password.reveal()
        for key, path in (
            ("ssl.ca.location", self.ssl_ca_location),
            ("ssl.certificate.location", self.ssl_cert_location),
            ("ssl.key.location", self.ssl_key_location),
        ):
            if path is not None:
                config[key] = str(path)
        return config

    def describe(self) -> str:
        """What a log line may say about it: protocol, mechanism, user and files, never a secret."""
        parts = [f"protocol={self.effective_protocol}"]
        if self.effective_protocol in SASL_PROTOCOLS:
            parts.append(f"mechanism={self.client_config()['sasl.mechanism']}")
            parts.append(f"username={self.sasl_username or self._file('sasl.username')}")
        if self.ssl_ca_location is not None:
            parts.append(f"ca={self.ssl_ca_location}")
        if self.file_config:
            parts.append(f"config_file_keys={','.join(sorted(self.file_config))}")
        return " ".join(parts)


@dataclass(frozen=True, kw_only=True)
class CassandraSecurity:
    """Cassandra's PasswordAuthenticator credentials and TLS (on when a CA is given)."""

    username: str | None = None
    password: Secret | None = None
    ssl_ca: Path | None = None
    ssl_cert: Path | None = None
    ssl_key: Path | None = None

    def __post_init__(self) -> None:
        if (self.username is None) != (self.password is None):
            raise SettingsError(
                f"{CASSANDRA_USERNAME.name} and {CASSANDRA_PASSWORD.name} (or {CASSANDRA_PASSWORD_FILE.name}) "
                "go together: set both or neither"
            )
        if (self.ssl_cert is None) != (self.ssl_key is None):
            raise SettingsError(
                f"{CASSANDRA_SSL_CERT.name} and {CASSANDRA_SSL_KEY.name} go together: set both or neither"
            )
        if self.ssl_cert is not None and self.ssl_ca is None:
            raise SettingsError(
                f"{CASSANDRA_SSL_CERT.name} is set without {CASSANDRA_SSL_CA.name}: TLS verifies the server with the CA"
            )

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> CassandraSecurity:
        """Read the ``PERSONA_CASSANDRA_*`` security settings (and the files they name) from ``env``."""
        ca, cert, key = (s.given(env) for s in (CASSANDRA_SSL_CA, CASSANDRA_SSL_CERT, CASSANDRA_SSL_KEY))
        for setting, path in ((CASSANDRA_SSL_CA, ca), (CASSANDRA_SSL_CERT, cert), (CASSANDRA_SSL_KEY, key)):
            _check_readable(setting, path)
        return cls(
            username=CASSANDRA_USERNAME.given(env),
            password=_password(env, CASSANDRA_PASSWORD, CASSANDRA_PASSWORD_FILE),
            ssl_ca=ca,
            ssl_cert=cert,
            ssl_key=key,
        )

    def credentials(self) -> tuple[str, str] | None:
        """(username, password in clear) for the driver's PlainTextAuthProvider, or None."""
        if self.username is None or self.password is None:
            return None
        return (self.username, self.password.reveal())

    def ssl_context(self) -> ssl.SSLContext | None:
        """A client context that verifies the server's certificate (and its host name or IP) against
        the CA, with the client certificate when one is given; None without a CA (no TLS)."""
        if self.ssl_ca is None:
            return None
        try:
            context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(self.ssl_ca))
            if self.ssl_cert is not None and self.ssl_key is not None:
                context.load_cert_chain(str(self.ssl_cert), str(self.ssl_key))
        except (OSError, ssl.SSLError) as error:
            raise SettingsError(
                f"{CASSANDRA_SSL_CA.name}/{CASSANDRA_SSL_CERT.name}/{CASSANDRA_SSL_KEY.name}: "
                f"cannot load {self.ssl_ca} ({type(error).__name__}: {getattr(error, 'reason', None) or _why(error)})"
            ) from None
        return context

    def describe(self) -> str:
        """What a log line may say about it: user and TLS, never the password."""
        return f"username={self.username or '-'} tls={'on' if self.ssl_ca else 'off'}"
