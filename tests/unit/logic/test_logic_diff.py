"""The pure diff of two segmentations (persona.logic.diff) and the catalog hook's answer without Nessie."""

from __future__ import annotations

from pathlib import Path

from persona.logic import ABSENT, diff_segments, format_diff, load_catalog_branches
from persona.logic.catalog import CatalogBranches
from persona.logic.plot import diff_figure, plot_diff


def test_counts_entered_exited_and_overlap() -> None:
    a = {1: "DORMANT", 2: "DORMANT", 3: "ACTIVE", 4: "VIP_HIGH_INVENTORY", 5: "DORMANT"}
    b = {1: "VIP_WINBACK", 2: "DORMANT", 3: "ACTIVE", 4: "VIP_HIGH_INVENTORY", 6: "ACTIVE"}
    diff = diff_segments(a, b)
    assert diff.counts_a == {"DORMANT": 3, "ACTIVE": 1, "VIP_HIGH_INVENTORY": 1}
    assert diff.counts_b == {"VIP_WINBACK": 1, "DORMANT": 1, "ACTIVE": 2, "VIP_HIGH_INVENTORY": 1}
    assert diff.entered == {"VIP_WINBACK": 1, "ACTIVE": 1}
    assert diff.exited == {"DORMANT": 2}
    assert diff.overlap == {
        ("DORMANT", "VIP_WINBACK"): 1,
        ("DORMANT", "DORMANT"): 1,
        ("ACTIVE", "ACTIVE"): 1,
        ("VIP_HIGH_INVENTORY", "VIP_HIGH_INVENTORY"): 1,
        ("DORMANT", ABSENT): 1,
        (ABSENT, "ACTIVE"): 1,
    }
    assert diff.changed == 3
    assert diff.samples == ((1, "DORMANT", "VIP_WINBACK"), (5, "DORMANT", ABSENT), (6, ABSENT, "ACTIVE"))
    # Every customer is in exactly one overlap cell.
    assert sum(diff.overlap.values()) == len(set(a) | set(b))


def test_identical_segmentations_have_no_change() -> None:
    same = {i: "ACTIVE" if i % 2 else "DORMANT" for i in range(10)}
    diff = diff_segments(same, dict(same))
    assert diff.changed == 0 and diff.samples == () and not diff.entered and not diff.exited
    assert diff.overlap == {("ACTIVE", "ACTIVE"): 5, ("DORMANT", "DORMANT"): 5}


def test_samples_cover_each_kind_of_change_before_repeating_one() -> None:
    a = {i: "DORMANT" for i in range(1, 11)}
    b = {i: "VIP_WINBACK" for i in range(1, 10)} | {10: "ACTIVE"}
    diff = diff_segments(a, b, samples=3)
    assert diff.samples == (
        (1, "DORMANT", "VIP_WINBACK"),
        (2, "DORMANT", "VIP_WINBACK"),
        (10, "DORMANT", "ACTIVE"),
    )
    assert len(diff_segments(a, b, samples=0).samples) == 0


def test_the_text_shows_every_segment_and_the_matrix() -> None:
    text = format_diff(
        diff_segments({1: "DORMANT", 2: "ACTIVE"}, {1: "VIP_WINBACK", 2: "ACTIVE"}), "main", "mkt-v2"
    )
    lines = text.splitlines()
    assert lines[0].split() == ["segment", "main", "mkt-v2", "entered", "exited"]
    assert lines[1].split() == ["ACTIVE", "1", "1", "0", "0"]
    assert lines[2].split() == ["DORMANT", "1", "0", "0", "1"]
    assert lines[3].split() == ["VIP_WINBACK", "0", "1", "1", "0"]
    assert "(1 changed segment)" in lines[4]
    assert lines[7].split() == ["ACTIVE", "VIP_WINBACK"]  # B's segments as columns
    assert lines[8].split() == ["ACTIVE", "1", "0"]
    assert lines[9].split() == ["DORMANT", "0", "1"]


def test_with_the_publication_off_the_catalog_step_says_not_configured() -> None:
    catalog, note = load_catalog_branches({"PERSONA_PUBLICATION": "off"})
    assert catalog is None
    assert note.startswith("nessie: not configured") and note.endswith("Paimon only")


def test_the_publication_provides_the_catalog_steps_on_nessie() -> None:
    catalog, note = load_catalog_branches({"PERSONA_NESSIE_URL": "http://nessie.example:19120"})
    assert isinstance(catalog, CatalogBranches)
    assert note == "nessie: nessie at http://nessie.example:19120"


def test_a_catalog_implementation_satisfies_the_protocol() -> None:
    class Fake:
        name = "nessie at http://127.0.0.1:19120"

        def create_branch(self, branch: str, from_ref: str) -> str:
            return f"{branch} from {from_ref}"

        def publish(self, branch: str) -> list[str]:
            return [f"{branch} published"]

        def merge(self, branch: str, into: str, message: str) -> str:
            return f"{branch} into {into}"

        def tag(self, tag: str, ref: str) -> str:
            return f"{tag} at {ref}"

        def history(self, ref: str, limit: int = 10) -> list[str]:
            return [f"{ref}: {limit} commits"]

    assert isinstance(Fake(), CatalogBranches)

    class NoPublish:
        name = "a catalog that cannot publish a replayed branch"

        def create_branch(self, branch: str, from_ref: str) -> str:
            return branch

        def merge(self, branch: str, into: str, message: str) -> str:
            return branch

        def tag(self, tag: str, ref: str) -> str:
            return tag

        def history(self, ref: str, limit: int = 10) -> list[str]:
            return []

    assert not isinstance(NoPublish(), CatalogBranches)


def test_two_empty_segmentations_print_an_empty_diff() -> None:
    text = format_diff(diff_segments({}, {}), "main", "mkt-v2")
    assert "(0 changed segment)" in text


def test_the_plot_shows_both_sides_counts_and_the_overlap_matrix(tmp_path: Path) -> None:
    import matplotlib.pyplot as plt

    a = {1: "DORMANT", 2: "DORMANT", 3: "ACTIVE", 5: "DORMANT"}
    b = {1: "VIP_WINBACK", 2: "DORMANT", 3: "ACTIVE", 6: "ACTIVE"}
    diff = diff_segments(a, b)
    fig = diff_figure(diff, "main", "mkt-v2")
    try:
        bars, heat = fig.axes[:2]
        labels = [t.get_text() for t in bars.get_xticklabels()]
        assert labels == list(diff.segments)
        main_bars, branch_bars = bars.containers
        assert main_bars.get_label() == "main" and branch_bars.get_label() == "mkt-v2"
        assert [r.get_height() for r in main_bars] == [diff.counts_a.get(s, 0) for s in labels]
        assert [r.get_height() for r in branch_bars] == [diff.counts_b.get(s, 0) for s in labels]
        rows = [t.get_text() for t in heat.get_yticklabels()]
        cols = [t.get_text() for t in heat.get_xticklabels()]
        assert rows == cols == [*labels, ABSENT]
        matrix = heat.images[0].get_array().tolist()
        assert matrix == [[diff.overlap.get((r, c), 0) for c in cols] for r in rows]
        assert heat.get_ylabel() == "main" and heat.get_xlabel() == "mkt-v2"
    finally:
        plt.close(fig)
    path = tmp_path / "diff.png"
    plot_diff(diff, "main", "mkt-v2", path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
