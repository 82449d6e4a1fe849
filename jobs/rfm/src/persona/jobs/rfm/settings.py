"""The RFM job's settings, built once at its entry point from the environment (persona.settings.registry)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from persona.decisions.rfm import DEFAULT_RFM_CONFIG, RfmV1Config
from persona.settings import PipelineSettings
from persona.settings.registry import CRM_DATABASE, CRM_HOST, CRM_PASSWORD, CRM_USER, MARIADB_PORT
from persona.settings.secret import Secret


@dataclass(frozen=True, kw_only=True)
class RfmJobSettings:
    crm_host: str
    crm_port: int
    crm_database: str
    crm_user: str
    crm_password: Secret
    warehouse: str
    profile_table: str
    # The sink's record of GDPR erasures (docs/erasure.md): the job keeps erased customers erased.
    erasures_table: str = "erasures"
    # local[*]: Spark in this process's JVM with a thread per core; any master URL by --master.
    master: str = "local[*]"
    rules: RfmV1Config = field(default_factory=lambda: DEFAULT_RFM_CONFIG)

    @classmethod
    def from_env(cls, env: Mapping[str, str], *, master: str = "local[*]") -> RfmJobSettings:
        pipeline = PipelineSettings.from_env(env)
        return cls(
            crm_host=CRM_HOST.get(env),
            crm_port=MARIADB_PORT.get(env),
            crm_database=CRM_DATABASE.get(env),
            crm_user=CRM_USER.get(env),
            crm_password=CRM_PASSWORD.get(env),
            warehouse=pipeline.warehouse,
            profile_table=pipeline.table("customer_profile"),
            erasures_table=pipeline.table("erasures"),
            master=master,
        )

    @property
    def jdbc_url(self) -> str:
        # The mysql scheme makes Spark pick its MySQL dialect (backquoted identifiers, MySQL types); a
        # jdbc:mariadb URL gets the generic one, whose "quoted" column names MariaDB reads as strings.
        # permitMysqlScheme lets MariaDB's driver accept that scheme.
        return f"jdbc:mysql://{self.crm_host}:{self.crm_port}/{self.crm_database}?permitMysqlScheme"
