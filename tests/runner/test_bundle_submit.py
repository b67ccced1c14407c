"""`smp-runner bundle` then `submit`: a bundle of real outputs reaches a live index and is scored.

The index does not create custom profiles yet (that is its side of issue 14); the
test registers the bundle's custom profile the way it will, from
``CustomProfile.profile.as_dict()``, and checks that the submission is accepted
and scored as the local preview scores it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from runner.cli import cli
from smp.custom_profiles import CustomProfile, profile_of_bundle
from smp.submission import read_submission

from .test_bundle_command import CPU_BASELINE_1000, CPU_ISTIO_1000, mesh_bench_args

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.fixture
def token(live_server: Any) -> str:
    from ingest import tokens

    organization = tokens.organization_create(slug="mesh-bench")
    _, secret = tokens.token_issue(organization=organization)
    return secret


def test_a_bundle_of_mesh_benchs_runs_is_accepted_and_scored_by_the_index(
    live_server: Any, token: str, tmp_path: Path
) -> None:
    from ingest.models import Profile, Submission

    made = CliRunner().invoke(
        cli, ["bundle", *map(str, mesh_bench_args(tmp_path, CPU_BASELINE_1000, CPU_ISTIO_1000))]
    )
    assert made.exit_code == 0, made.output
    path = tmp_path / "bundle.json"
    bundle = read_submission(path.read_bytes(), native_alone=True).bundle
    assert bundle is not None
    custom, problems = profile_of_bundle(bundle)
    assert problems == [] and isinstance(custom, CustomProfile)
    Profile.objects.create(**custom.profile.as_dict())

    env = {"SMP_SERVER": live_server.url, "SMP_TOKEN": token}
    sent = CliRunner().invoke(cli, ["submit", str(path), "--wait"], env=env)
    assert sent.exit_code == 0, sent.output
    [row] = Submission.objects.all()
    assert row.status == "accepted" and bytes(row.raw) == path.read_bytes()
    preview = json.loads(CliRunner().invoke(cli, ["score", "--json", str(path)]).stdout)
    expected = preview["runs"][0]["meshmark"]["score"]
    assert f"MeshMark {expected:.1f}" in sent.output
