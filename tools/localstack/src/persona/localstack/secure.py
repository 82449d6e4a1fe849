"""A secured local Kafka and Cassandra, for the security integration test and for trying the
security settings by hand (docs/security.md).

Kafka: the local KRaft node with one SASL_SSL client listener (SCRAM-SHA-512 users written into the
storage at format time, ``--add-scram``), its controller listener still plaintext on 127.0.0.1.
Cassandra: the local node with ``PasswordAuthenticator`` and client TLS required. The certificates (a
CA, one server certificate for 127.0.0.1, a PKCS12 keystore and truststore) are made here with
``openssl`` and ``keytool``; clients verify the servers with the CA's PEM.

It reuses the stack's launch code (``configs``, ``procs``, ``jars``, ``stack``): the same renderings
with overrides, the same commands with extra arguments, so a second launcher cannot drift from the
first. Everything lives under its own home and ports; the shared stack is never touched.
"""

from __future__ import annotations

import dataclasses
import logging
import secrets
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from cassandra.auth import PlainTextAuthProvider
from cassandra.cluster import EXEC_PROFILE_DEFAULT, Cluster, ExecutionProfile
from cassandra.policies import RoundRobinPolicy

from persona.localstack import configs, procs, stack
from persona.localstack.errors import StackError
from persona.localstack.jars import find_jar, resolve_classpath
from persona.localstack.settings import StackSettings
from persona.settings.secret import Secret
from persona.settings.security import CassandraSecurity, KafkaSecurity

log = logging.getLogger(__name__)

SCRAM_MECHANISM = "SCRAM-SHA-512"
# The broker's own user, for its inter-broker (here: to itself) SASL_SSL connections.
BROKER_USER = "broker"
CLIENT_USER = "persona"
CASSANDRA_SUPERUSER = ("cassandra", "cassandra")  # PasswordAuthenticator's built-in default
PASSWORD_AUTHENTICATOR = "org.apache.cassandra.auth.PasswordAuthenticator"


@dataclass(frozen=True)
class Certificates:
    ca_pem: Path
    keystore: Path
    truststore: Path
    store_password: Secret


@dataclass(frozen=True)
class SecureStack:
    """A running secured stack: ``settings`` carry the client user's security settings; ``env`` is the
    same as ``PERSONA_*`` variables, for a process (a flow) that reads its own."""

    settings: StackSettings
    env: dict[str, str]
    certificates: Certificates


def free_ports(count: int) -> list[int]:
    """``count`` distinct TCP ports free on 127.0.0.1 now (the kernel's choice of ephemeral ports)."""
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _run(command: list[str], what: str) -> None:
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    if result.returncode != 0:
        # The commands carry passwords as arguments: report the tool and its stderr, not the command.
        raise StackError(f"{what} failed ({Path(command[0]).name}): {result.stderr.strip()[-2000:]}")


def make_certificates(directory: Path, java: str) -> Certificates:
    """A CA and a server certificate for 127.0.0.1/localhost signed by it, as PEM files, a PKCS12
    keystore (server key and chain) and a PKCS12 truststore (the CA) with one random password."""
    directory.mkdir(parents=True, exist_ok=True)
    password = secrets.token_urlsafe(18)
    d = directory
    _run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=persona-test-ca",
            "-keyout",
            str(d / "ca.key"),
            "-out",
            str(d / "ca.pem"),
        ],
        "making the CA",
    )
    _run(
        [
            "openssl",
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            str(d / "server.key"),
            "-out",
            str(d / "server.csr"),
        ],
        "making the server key",
    )
    (d / "server.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    _run(
        [
            "openssl",
            "x509",
            "-req",
            "-days",
            "2",
            "-in",
            str(d / "server.csr"),
            "-CA",
            str(d / "ca.pem"),
            "-CAkey",
            str(d / "ca.key"),
            "-CAcreateserial",
            "-extfile",
            str(d / "server.ext"),
            "-out",
            str(d / "server.pem"),
        ],
        "signing the server certificate",
    )
    _run(
        [
            "openssl",
            "pkcs12",
            "-export",
            "-in",
            str(d / "server.pem"),
            "-inkey",
            str(d / "server.key"),
            "-certfile",
            str(d / "ca.pem"),
            "-name",
            "server",
            "-out",
            str(d / "keystore.p12"),
            "-passout",
            f"pass:{password}",
        ],
        "making the keystore",
    )
    keytool = str(Path(java).resolve().parent / "keytool")
    _run(
        [
            keytool,
            "-importcert",
            "-noprompt",
            "-alias",
            "ca",
            "-file",
            str(d / "ca.pem"),
            "-keystore",
            str(d / "truststore.p12"),
            "-storetype",
            "PKCS12",
            "-storepass",
            password,
        ],
        "making the truststore",
    )
    return Certificates(d / "ca.pem", d / "keystore.p12", d / "truststore.p12", Secret(password))


def with_overrides(rendered: str, overrides: dict[str, str], separator: str) -> str:
    """A rendered config (``key=value`` or top-level ``key: value`` lines) without the overridden keys'
    lines, then the overrides: one value per key, whatever the file format does with duplicates."""
    kept = [
        line
        for line in rendered.splitlines()
        if line.split(separator, 1)[0].strip() not in overrides or line.startswith((" ", "#"))
    ]
    return "\n".join([*kept, *(f"{key}{separator}{value}" for key, value in overrides.items())]) + "\n"


def kafka_overrides(settings: StackSettings, certs: Certificates, broker_password: Secret) -> dict[str, str]:
    """server.properties keys of a broker whose only client listener is SASL_SSL with SCRAM."""
    store = certs.store_password.reveal()
    jaas = (
        "org.apache.kafka.common.security.scram.ScramLoginModule required "
        f'username="{BROKER_USER}" password="{broker_password.reveal()}";'
    )
    return {
        "listeners": f"SASL_SSL://127.0.0.1:{settings.kafka_port},CONTROLLER://127.0.0.1:{settings.kafka_controller_port}",
        "advertised.listeners": f"SASL_SSL://127.0.0.1:{settings.kafka_port}",
        "inter.broker.listener.name": "SASL_SSL",
        "listener.security.protocol.map": "SASL_SSL:SASL_SSL,CONTROLLER:PLAINTEXT",
        "sasl.enabled.mechanisms": SCRAM_MECHANISM,
        "sasl.mechanism.inter.broker.protocol": SCRAM_MECHANISM,
        f"listener.name.sasl_ssl.{SCRAM_MECHANISM.lower()}.sasl.jaas.config": jaas,
        "ssl.keystore.type": "PKCS12",
        "ssl.keystore.location": str(certs.keystore),
        "ssl.keystore.password": store,
        "ssl.key.password": store,
        "ssl.truststore.type": "PKCS12",
        "ssl.truststore.location": str(certs.truststore),
        "ssl.truststore.password": store,
        "ssl.client.auth": "none",
    }


def cassandra_yaml_overrides(certs: Certificates) -> str:
    """cassandra.yaml blocks: password authentication and required client TLS."""
    return (
        "authenticator:\n"
        f"  class_name: {PASSWORD_AUTHENTICATOR}\n"
        "client_encryption_options:\n"
        "  enabled: true\n"
        "  optional: false\n"
        f'  keystore: "{certs.keystore}"\n'
        f'  keystore_password: "{certs.store_password.reveal()}"\n'
        "  store_type: PKCS12\n"
        "  require_client_auth: false\n"
    )


def _start_kafka(
    settings: StackSettings, classpath: Path, certs: Certificates, users: dict[str, Secret]
) -> int:
    settings.kafka_dir.mkdir(parents=True, exist_ok=True)
    properties = settings.kafka_dir / "server.properties"
    properties.write_text(
        with_overrides(
            configs.render_kafka_properties(settings),
            kafka_overrides(settings, certs, users[BROKER_USER]),
            "=",
        )
    )
    properties.chmod(0o600)
    log4j = settings.infra_dir / "kafka" / "log4j2.yaml"
    scram = [
        arg
        for name, password in users.items()
        for arg in ("--add-scram", f"{SCRAM_MECHANISM}=[name={name},password={password.reveal()}]")
    ]
    command = configs.kafka_format_command(settings, classpath, log4j, configs.new_kafka_cluster_id()) + scram
    _run(command, "formatting the secured Kafka storage")
    return procs.start_detached(
        configs.kafka_command(settings, classpath, log4j),
        stack.log_file(settings, "kafka"),
        cwd=settings.kafka_dir,
    )


def _start_cassandra(settings: StackSettings, classpath: Path, certs: Certificates) -> int:
    settings.cassandra_dir.mkdir(parents=True, exist_ok=True)
    config = settings.cassandra_dir / "cassandra.yaml"
    config.write_text(configs.render_cassandra_yaml(settings) + cassandra_yaml_overrides(certs))
    config.chmod(0o600)
    command = configs.cassandra_command(
        settings,
        classpath,
        jamm_jar=find_jar(classpath, "jamm"),
        logback_config=settings.infra_dir / "cassandra" / "logback.xml",
    )
    # The default superuser is created this long after start-up (10 s by default): no reason to wait.
    command.insert(command.index("-cp"), "-Dcassandra.superuser_setup_delay_ms=0")
    return procs.start_detached(
        command, stack.log_file(settings, "cassandra"), cwd=settings.cassandra_dir, forbid_mlock=True
    )


def _wait(settings: StackSettings, service: str, deadline: float) -> None:
    while True:
        pid = procs.read_pid(stack.pid_file(settings, service))
        if pid is not None and not procs.process_alive(pid):
            tail = "\n".join(procs.tail_lines(stack.log_file(settings, service), 30))
            raise StackError(f"secured {service} exited before it became healthy:\n{tail}")
        healthy, detail = stack.probe(settings, service, timeout=3.0)
        if healthy:
            log.info("secured %s healthy (%s)", service, detail)
            return
        if time.monotonic() > deadline:
            tail = "\n".join(procs.tail_lines(stack.log_file(settings, service), 30))
            raise StackError(f"secured {service} not healthy in time ({detail}):\n{tail}")
        time.sleep(0.5)  # polling interval while the JVM starts


def create_cassandra_role(settings: StackSettings, name: str, password: Secret) -> None:
    """Log in as the default superuser (over TLS) and create a login role for the clients."""
    ssl_context = settings.cassandra_security.ssl_context()
    cluster = Cluster(
        [settings.cassandra_contact[0]],
        port=settings.cassandra_port,
        execution_profiles={EXEC_PROFILE_DEFAULT: ExecutionProfile(load_balancing_policy=RoundRobinPolicy())},
        protocol_version=5,
        auth_provider=PlainTextAuthProvider(*CASSANDRA_SUPERUSER),
        ssl_context=ssl_context,
        schema_metadata_enabled=False,
        token_metadata_enabled=False,
    )
    try:
        session = cluster.connect()
        # CQL has no bind markers in role statements; the password is URL-safe base64, no quotes.
        session.execute(
            f"CREATE ROLE IF NOT EXISTS {name} WITH PASSWORD = '{password.reveal()}' AND LOGIN = true"
        )
    finally:
        cluster.shutdown()


def up_secure(base: StackSettings, home: Path, *, timeout: float = 420.0) -> SecureStack:
    """Start a secured Kafka and Cassandra under ``home`` on free ports; ``base`` gives the Java,
    Maven, jar cache and heaps. Stop it with :func:`down_secure`."""
    java = stack.check_java(base)
    kafka_port, controller_port, cassandra_port, storage_port = free_ports(4)
    certs = make_certificates(home / "certs", java)
    client_password, broker_password = Secret(secrets.token_urlsafe(18)), Secret(secrets.token_urlsafe(18))
    cassandra_password = Secret(secrets.token_urlsafe(18))
    kafka_security = KafkaSecurity(
        protocol="SASL_SSL",
        sasl_mechanism=SCRAM_MECHANISM,
        sasl_username=CLIENT_USER,
        sasl_password=client_password,
        ssl_ca_location=certs.ca_pem,
    )
    settings = dataclasses.replace(
        base,
        home=home,
        warehouse=home / "warehouse",
        java=java,
        kafka_port=kafka_port,
        kafka_controller_port=controller_port,
        cassandra_port=cassandra_port,
        cassandra_storage_port=storage_port,
        kafka_security=kafka_security,
        # Until the client role exists, the stack's own probes log in as the superuser.
        cassandra_security=CassandraSecurity(
            username=CASSANDRA_SUPERUSER[0], password=Secret(CASSANDRA_SUPERUSER[1]), ssl_ca=certs.ca_pem
        ),
    )
    deadline = time.monotonic() + timeout
    classpaths = {s: resolve_classpath(settings, s, log.info) for s in ("cassandra", "kafka")}
    # Cassandra first: it is the slower one to become healthy.
    pid = _start_cassandra(settings, classpaths["cassandra"], certs)
    procs.write_pid(stack.pid_file(settings, "cassandra"), pid)
    pid = _start_kafka(
        settings, classpaths["kafka"], certs, {BROKER_USER: broker_password, CLIENT_USER: client_password}
    )
    procs.write_pid(stack.pid_file(settings, "kafka"), pid)
    try:
        _wait(settings, "kafka", deadline)
        _wait(settings, "cassandra", deadline)
        create_cassandra_role(settings, CLIENT_USER, cassandra_password)
    except BaseException:
        down_secure(settings)
        raise
    settings = dataclasses.replace(
        settings,
        cassandra_security=CassandraSecurity(
            username=CLIENT_USER, password=cassandra_password, ssl_ca=certs.ca_pem
        ),
    )
    env = {
        "PERSONA_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "PERSONA_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "PERSONA_KAFKA_SASL_MECHANISM": SCRAM_MECHANISM,
        "PERSONA_KAFKA_SASL_USERNAME": CLIENT_USER,
        "PERSONA_KAFKA_SASL_PASSWORD": client_password.reveal(),
        "PERSONA_KAFKA_SSL_CA_LOCATION": str(certs.ca_pem),
        "PERSONA_CASSANDRA_PORT": str(cassandra_port),
        "PERSONA_CASSANDRA_USERNAME": CLIENT_USER,
        "PERSONA_CASSANDRA_PASSWORD": cassandra_password.reveal(),
        "PERSONA_CASSANDRA_SSL_CA": str(certs.ca_pem),
    }
    return SecureStack(settings, env, certs)


def down_secure(settings: StackSettings) -> dict[str, str]:
    """Stop the secured services of ``settings.home`` (their data stays until the home is removed)."""
    return stack.down(settings)
