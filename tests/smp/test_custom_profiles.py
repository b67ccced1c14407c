"""An SMP PerformanceTestConfig as a profile: standard when it is one, custom otherwise."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest

from smp.custom_profiles import (
    CustomProfile,
    ProfileError,
    config_for_profile,
    custom_profile,
    is_custom,
    profile_of_bundle,
    resolve,
)
from smp.model import Bundle, Client, PerformanceTestConfig
from smp.profiles import Profile, get_profile, standard_profiles
from smp.spec.export import export_test_config, to_yaml
from smp.spec.read import read_test_config

ROOT = Path(__file__).resolve().parents[2]
LOAD_TEST = ROOT.parent / "shared/real-data/smp-repo-artifacts/meshery-smp-action/load-test.yaml"


def meshery_config() -> PerformanceTestConfig:
    read = read_test_config(LOAD_TEST.read_bytes())
    assert read.test_config is not None
    return read.test_config


def test_merysheys_test_configuration_is_a_custom_profile_with_its_figures() -> None:
    custom = resolve(meshery_config())
    assert isinstance(custom, CustomProfile)
    assert re.fullmatch(r"custom-[0-9a-f]{12}", custom.id)
    assert custom.id == "custom-" + custom.fingerprint[:12]
    profile = custom.profile
    # clients[0]: fortio, protocol 1 (HTTP), 2 connections, rps 10; duration 60s.
    assert (profile.protocol, profile.rps, profile.connections) == ("http", 10, 2)
    assert (profile.duration_s, profile.payload_bytes, profile.warmup_s) == (60, 0, 5)
    assert (profile.services, profile.name) == (2, "Load Test")
    assert custom.load_generator == "fortio"
    assert custom.as_dict()["custom"] is True
    assert custom.as_dict()["endpoint_urls"] == ["https://smp-spec.io"]
    assert custom.config.id == custom.id
    assert is_custom(custom.id) and not is_custom("http-1k")


def test_the_same_test_gets_the_same_id_whatever_it_is_called_and_wherever_it_points() -> None:
    config = meshery_config()
    client = config.clients[0]
    renamed = dataclasses.replace(
        config,
        name="mine",
        id="x",
        labels={"team": "a"},
        clients=[
            dataclasses.replace(
                client, endpoint_url=["http://other"], headers={"Authorization": "t"}
            )
        ],
    )
    assert resolve(renamed).id == resolve(config).id
    for change in ({"rps": 20.0}, {"connections": 4}, {"load_generator": "nighthawk"}):
        other = dataclasses.replace(config, clients=[dataclasses.replace(client, **change)])
        assert resolve(other).id != resolve(config).id, change
    longer = dataclasses.replace(config, duration="2m")
    assert resolve(longer).id != resolve(config).id


@pytest.mark.parametrize("profile", standard_profiles(), ids=lambda p: p.id)
def test_a_standard_profile_as_smp_comes_back_as_itself(profile: Profile) -> None:
    config = config_for_profile(profile)
    assert resolve(config) == profile
    exported = export_test_config(config)
    for data in (json.dumps(exported).encode(), to_yaml(exported).encode()):
        read = read_test_config(data)
        assert read.test_config is not None and resolve(read.test_config) == profile


def test_a_standard_id_with_other_figures_is_a_custom_profile() -> None:
    profile = get_profile("http-1k")
    assert profile is not None
    config = config_for_profile(profile)
    faster = dataclasses.replace(config, clients=[dataclasses.replace(config.clients[0], rps=2000)])
    custom = resolve(faster)
    assert isinstance(custom, CustomProfile) and custom.profile.rps == 2000
    assert custom.profile.payload_bytes == 1024  # from the profile.meshmark.io labels
    assert custom_profile(config).id != "http-1k"  # on request, any config is a custom one


def test_configs_that_cannot_be_profiles_say_why_by_path() -> None:
    two = PerformanceTestConfig(duration="60s", clients=[Client(), Client()])
    with pytest.raises(ProfileError, match=r"clients: a profile has one client"):
        resolve(two)
    bad = PerformanceTestConfig(
        duration="soon",
        clients=[Client(rps=0.5)],
        labels={"profile.meshmark.io/payload_bytes": "big", "profile.meshmark.io/size": "1"},
    )
    with pytest.raises(ProfileError) as caught:
        resolve(bad)
    assert [(p.path, p.rule) for p in caught.value.problems] == [
        ("clients[0].protocol", "required"),
        ("clients[0].connections", "required"),
        ("duration", "duration"),
        ("clients[0].rps", "whole-rps"),
        ("labels.profile.meshmark.io/size", "profile-label"),
        ("labels.profile.meshmark.io/payload_bytes", "profile-label"),
    ]


def test_a_bundle_names_its_profile_standard_or_custom() -> None:
    custom = resolve(meshery_config())
    assert isinstance(custom, CustomProfile)
    assert profile_of_bundle(Bundle(profile="http-100")) == (get_profile("http-100"), [])
    found, problems = profile_of_bundle(Bundle(profile=custom.id, config=custom.config))
    assert problems == [] and found == custom
    # A custom id borrowed for another test is refused.
    other = dataclasses.replace(custom.config, duration="30s")
    found, problems = profile_of_bundle(Bundle(profile=custom.id, config=other))
    assert found is None and [(p.path, p.rule) for p in problems] == [("profile", "custom-profile")]
    found, problems = profile_of_bundle(Bundle(profile=custom.id))
    assert [(p.path, p.rule) for p in problems] == [("config", "custom-profile")]
    found, problems = profile_of_bundle(Bundle(profile="http-7"))
    assert [(p.path, p.rule) for p in problems] == [("profile", "known-profile")]
