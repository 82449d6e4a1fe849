"""``persona logic``'s catalog steps on Nessie (``persona.logic.catalog.CatalogBranches``): a logic branch
is a Nessie branch beside its Paimon branches; its merge publishes the branch's tables, merges the
Nessie branch into main and tags the release. Nothing on Nessie's main changes before the merge."""

from __future__ import annotations

from collections.abc import Mapping

from persona.nessie import ReferenceNotFound
from persona.publish.plan import MAIN, PUBLISHED_TABLES
from persona.publish.publisher import Publisher, PublishSettings


class NessieBranches:
    """:class:`persona.logic.catalog.CatalogBranches` over a :class:`Publisher`."""

    def __init__(self, publisher: Publisher) -> None:
        self.publisher = publisher
        self.name = f"nessie at {publisher.settings.nessie_url}"

    def create_branch(self, branch: str, from_ref: str) -> str:
        """The Nessie branch of ``branch`` from the head of ``from_ref``'s (main's is made if missing)."""
        self.publisher.check_reachable(history=False)
        nessie = self.publisher.nessie
        origin = self.publisher.ensure_ref(from_ref)
        name = self.publisher.ref(branch)
        try:
            existing = nessie.reference(name)
        except ReferenceNotFound:
            made = nessie.create_branch(name, from_ref=origin.name)
            return f"branch {made.name} from {origin.name} at {made.hash[:12]} ({origin.name} unchanged)"
        return f"branch {existing.name} exists already at {existing.hash[:12]}"

    def publish(self, branch: str) -> list[str]:
        """Publish ``branch``'s tables onto its Nessie branch (what a merge carries); the report's lines."""
        return self.publisher.publish(PUBLISHED_TABLES, branch).lines()

    def merge(self, branch: str, into: str, message: str) -> str:
        """Publish ``branch``'s tables, then merge its Nessie branch into ``into``'s in one commit. The
        branch's tables win where ``into`` changed them too (a release makes the branch's result the
        catalog's; Nessie's FORCE merge mode)."""
        lines = self.publish(branch)
        source = self.publisher.ref(branch)
        target = self.publisher.ensure_ref(into)
        head = self.publisher.nessie.merge(source, into=target.name, message=message, force=True)
        if head.hash == self.publisher.nessie.reference(source).hash:
            # Nessie 0.99 cannot merge into a branch with no commit of its own since the fork: the
            # adapter fast-forwards it, so no merge commit carries the message (the release tag and
            # Paimon's logic_releases do).
            done = f"{target.name} fast-forwarded to {source} at {head.hash[:12]} (release: {message})"
        else:
            done = f"merged {source} into {target.name}: commit {head.hash[:12]} {message}"
        return "\n".join([*lines, done])

    def tag(self, tag: str, ref: str) -> str:
        made = self.publisher.set_tag(self.publisher.ref(tag), self.publisher.ensure_ref(ref).name)
        lines = [f"tag {made.name} at {made.hash[:12]}"]
        if ref == MAIN:
            # The release in the history catalog too: main as Nessie holds it now, tagged alike.
            lines += [f"history main: {o.describe()}" for o in self.publisher.mirror_history(tag)]
        return "\n".join(lines)

    def history(self, ref: str, limit: int = 10) -> list[str]:
        """``ref``'s newest Nessie commits, newest first, and the tags persona made on it."""
        nessie = self.publisher.nessie
        name = self.publisher.ref(ref)
        try:
            entries = nessie.log(name, limit)
        except ReferenceNotFound:
            return [f"{name}: no such Nessie branch yet"]
        by_hash: dict[str, list[str]] = {}
        for reference in nessie.references():
            if reference.kind == "TAG" and reference.name.startswith(self.publisher.settings.ref_prefix):
                by_hash.setdefault(reference.hash, []).append(reference.name)
        lines = []
        for entry in entries:
            tags = by_hash.get(entry.hash)
            suffix = f" [{', '.join(sorted(tags))}]" if tags else ""
            lines.append(f"{entry.hash[:12]} {entry.commit_time[:19]} {entry.message}{suffix}")
        return lines


def catalog_branches(env: Mapping[str, str]) -> NessieBranches | None:
    """The hook ``persona.logic.catalog.load_catalog_branches`` looks for: None when the publication is
    switched off (PERSONA_PUBLICATION=off)."""
    settings = PublishSettings.from_env(env)
    if not settings.enabled:
        return None
    return NessieBranches(Publisher(settings))
