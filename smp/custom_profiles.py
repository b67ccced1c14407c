"""Test configurations as profiles: an SMP PerformanceTestConfig is a custom profile.

A standard profile (``smp/data/profiles.yaml``) is a test everyone runs the
same way; an SMP PerformanceTestConfig (Meshery's included) describes a test
someone chose. :func:`resolve` turns a configuration into the standard profile
it describes exactly, or into a :class:`CustomProfile` whose id is derived from
what the test is, so that the same test gets the same id wherever it is run,
and its results are ranked only with results of the very same test (docs/smp.md,
"Custom profiles").

What defines a custom profile (its fingerprint): the client's protocol, rate
(``rps`` 0 or absent: as fast as possible), connections, duration, load
generator, request body and content type, whether the client is inside the
mesh (``internal``), and the profile figures SMP has no field for, carried as
labels: ``profile.meshmark.io/payload_bytes`` (the response size the
workload answers with, default 0), ``profile.meshmark.io/warmup_s`` (default
5) and ``profile.meshmark.io/services`` (default 2). Not in it: names, ids,
endpoints (each cluster has its own), headers and cookies (tokens), labels.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from typing import Any

from smp.errors import Problem, ReaderError
from smp.model import Bundle, Client, PerformanceTestConfig
from smp.profiles import DEFAULT_ERROR_BUDGET, Profile, get_profile, standard_profiles
from smp.units import duration_to_ms

CUSTOM_PREFIX = "custom-"
"""Every custom profile's id starts so; standard ids never do."""
LABEL_PREFIX = "profile.meshmark.io/"
"""Labels of a PerformanceTestConfig that carry a profile's figures SMP has no field for."""
DEFAULT_WARMUP_S = 5
DEFAULT_SERVICES = 2
_LABELS = ("version", "payload_bytes", "warmup_s", "services", "description")


class ProfileError(ReaderError):
    """A configuration that cannot be a profile; ``problems`` say where and why."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("profile", "; ".join(str(p) for p in problems))
        self.problems = problems


@dataclass(frozen=True)
class CustomProfile:
    """A profile made from a PerformanceTestConfig.

    ``profile`` is runnable like a standard one (its ``id`` is
    ``custom-<12 hex digits of the fingerprint>``); ``config`` is the
    configuration in MeshMark's form, with the id and the profile labels set,
    from which :func:`resolve` computes this same profile again (a bundle
    carries it as its ``config``).
    """

    profile: Profile
    fingerprint: str
    load_generator: str | None
    config: PerformanceTestConfig

    @property
    def id(self) -> str:
        return self.profile.id

    def config_dict(self) -> dict[str, Any]:
        """The configuration as the SMP document a bundle carries as its ``config``."""
        doc: dict[str, Any] = Bundle(config=self.config).to_dict()["config"]
        return doc

    def as_dict(self) -> dict[str, Any]:
        """The profile's fields, marked custom, with what defines it."""
        client = self.config.clients[0]
        return {
            **self.profile.as_dict(),
            "custom": True,
            "fingerprint": self.fingerprint,
            "load_generator": self.load_generator,
            "internal": bool(client.internal),
            "endpoint_urls": list(client.endpoint_url),
        }


def is_custom(profile_id: str | None) -> bool:
    return bool(profile_id) and str(profile_id).startswith(CUSTOM_PREFIX)


def config_for_profile(profile: Profile) -> PerformanceTestConfig:
    """A standard profile as an SMP PerformanceTestConfig (``profiles show ID --smp``).

    The profile's figures SMP has no field for are labels; the load generator
    is left to the runner (the standard profiles do not fix one).
    """
    labels = {
        LABEL_PREFIX + "version": str(profile.version),
        LABEL_PREFIX + "payload_bytes": str(profile.payload_bytes),
        LABEL_PREFIX + "warmup_s": str(profile.warmup_s),
        LABEL_PREFIX + "services": str(profile.services),
        LABEL_PREFIX + "description": profile.description,
    }
    client = Client(
        protocol=profile.protocol,
        connections=profile.connections,
        rps=float(profile.rps) if profile.rps is not None else None,
    )
    return PerformanceTestConfig(
        id=profile.id,
        name=profile.name,
        duration=f"{profile.duration_s}s",
        clients=[client],
        labels=labels,
    )


def _whole(text: str, path: str, problems: list[Problem], *, minimum: int) -> int | None:
    if text.strip().isdigit() and int(text) >= minimum:
        return int(text)
    problems.append(Problem(path, "profile-label", f"{text!r} is not a whole number >= {minimum}"))
    return None


def _figures(config: PerformanceTestConfig) -> tuple[dict[str, Any], list[Problem]]:
    """The profile figures of ``config``, or the problems that keep it from being one."""
    problems: list[Problem] = []
    if len(config.clients) != 1:
        problems.append(
            Problem(
                "clients",
                "one-client",
                f"a profile has one client (one load generator); this has {len(config.clients)}",
            )
        )
        return {}, problems
    client = config.clients[0]
    if client.protocol is None:
        problems.append(Problem("clients[0].protocol", "required", "a profile names its protocol"))
    if client.connections is None:
        problems.append(
            Problem("clients[0].connections", "required", "a profile names its connections")
        )
    duration_s: int | None = None
    if config.duration is None:
        problems.append(Problem("duration", "required", "a profile names its duration (60s)"))
    else:
        try:
            seconds = duration_to_ms(config.duration, "profile") / 1000
        except ReaderError:
            seconds = -1.0
        if seconds < 1 or seconds != int(seconds):
            problems.append(
                Problem("duration", "duration", f"{config.duration!r} is not whole seconds >= 1s")
            )
        else:
            duration_s = int(seconds)
    if client.rps is not None and not float(client.rps).is_integer():
        problems.append(
            Problem(
                "clients[0].rps", "whole-rps", f"{client.rps} is not whole (SMP's rps is int64)"
            )
        )
    prefix = len(LABEL_PREFIX)
    labels = {k[prefix:]: v for k, v in config.labels.items() if k.startswith(LABEL_PREFIX)}
    for name in sorted(set(labels) - set(_LABELS)):
        problems.append(
            Problem(
                f"labels.{LABEL_PREFIX}{name}",
                "profile-label",
                f"not a profile figure (known: {', '.join(_LABELS)})",
            )
        )

    def number(name: str, default: int, minimum: int) -> int | None:
        if name not in labels:
            return default
        return _whole(labels[name], f"labels.{LABEL_PREFIX}{name}", problems, minimum=minimum)

    figures = {
        "protocol": client.protocol,
        "rps": int(client.rps) if client.rps else None,
        "connections": client.connections,
        "duration_s": duration_s,
        "payload_bytes": number("payload_bytes", 0, 0),
        "warmup_s": number("warmup_s", DEFAULT_WARMUP_S, 0),
        "services": number("services", DEFAULT_SERVICES, 2),
        "version": number("version", 1, 1),
        "description": labels.get("description"),
    }
    return figures, problems


def _fingerprint(figures: dict[str, Any], client: Client) -> str:
    rps = figures["rps"]
    defining = {
        "protocol": figures["protocol"],
        "rps": rps,
        "connections": figures["connections"],
        "duration_s": figures["duration_s"],
        "payload_bytes": figures["payload_bytes"],
        "warmup_s": figures["warmup_s"],
        "services": figures["services"],
        "load_generator": client.load_generator,
        "internal": bool(client.internal),
        "body_sha256": hashlib.sha256((client.body or "").encode()).hexdigest(),
        "content_type": client.content_type or None,
    }
    text = json.dumps(defining, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def _standard(config: PerformanceTestConfig, figures: dict[str, Any]) -> Profile | None:
    """The standard profile ``config`` describes exactly (its id and every figure), if any."""
    profile = get_profile(config.id) if config.id else None
    client = config.clients[0]
    if profile is None or client.load_generator or client.body or client.internal:
        return None
    same = (
        profile.protocol == figures["protocol"]
        and (profile.rps is None) == (figures["rps"] is None)
        and (profile.rps is None or float(profile.rps) == float(figures["rps"]))
        and profile.connections == figures["connections"]
        and profile.duration_s == figures["duration_s"]
        and profile.payload_bytes == figures["payload_bytes"]
        and profile.warmup_s == figures["warmup_s"]
        and profile.services == figures["services"]
        and profile.version == figures["version"]
    )
    return profile if same else None


def resolve(config: PerformanceTestConfig) -> Profile | CustomProfile:
    """The standard profile ``config`` is, or the custom profile it defines.

    Raises ProfileError (every problem, by field path) when it cannot be a
    profile: not exactly one client, no protocol, connections or duration, or
    a ``profile.meshmark.io/`` label that is not a whole number.
    """
    figures, problems = _figures(config)
    if problems:
        raise ProfileError(problems)
    standard = _standard(config, figures)
    if standard is not None:
        return standard
    client = config.clients[0]
    fingerprint = _fingerprint(figures, client)
    profile_id = CUSTOM_PREFIX + fingerprint[:12]
    rate = "max rate" if figures["rps"] is None else f"{figures['rps']:g} rps"
    description = figures["description"] or (
        f"Custom profile from an SMP PerformanceTestConfig: {figures['protocol']} at {rate} "
        f"over {figures['connections']} connections for {figures['duration_s']}s"
        + (f" with {client.load_generator}" if client.load_generator else "")
    )
    profile = Profile(
        id=profile_id,
        version=figures["version"],
        name=config.name or config.id or profile_id,
        description=description,
        protocol=figures["protocol"],
        rps=figures["rps"],
        connections=figures["connections"],
        payload_bytes=figures["payload_bytes"],
        duration_s=figures["duration_s"],
        warmup_s=figures["warmup_s"],
        services=figures["services"],
        # A test configuration states no error budget: custom boards use the standard one.
        error_budget=DEFAULT_ERROR_BUDGET,
    )
    carried = replace(config, id=profile_id)
    return CustomProfile(profile, fingerprint, client.load_generator, carried)


def custom_profile(config: PerformanceTestConfig) -> CustomProfile:
    """The custom profile ``config`` defines, even when it describes a standard profile."""
    resolved = resolve(replace(config, id=None))
    assert isinstance(resolved, CustomProfile)  # without an id it is never a standard one
    return replace(resolved, config=replace(resolved.config, id=resolved.id))


def profile_of_bundle(bundle: Bundle) -> tuple[Profile | CustomProfile | None, list[Problem]]:
    """The profile a bundle ran, standard or custom, or the problems that keep it from one.

    A standard id is looked up; a ``custom-`` id needs the bundle's ``config``,
    from which the same id must come out (so a custom id is never borrowed for
    another test). Anything else is an unknown profile.
    """
    if bundle.profile is None:
        return None, [Problem("profile", "known-profile", "the bundle names no profile")]
    standard = get_profile(bundle.profile)
    if standard is not None:
        return standard, []
    if not is_custom(bundle.profile):
        known = ", ".join(p.id for p in standard_profiles())
        message = f"unknown profile {bundle.profile!r}; the standard profiles are: {known}"
        return None, [Problem("profile", "known-profile", message + ", or custom-<id> with config")]
    if bundle.config is None:
        return None, [
            Problem("config", "custom-profile", f"{bundle.profile} is custom: its config is needed")
        ]
    try:
        custom = custom_profile(bundle.config)
    except ProfileError as exc:
        return None, [Problem(f"config.{p.path}", p.rule, p.message) for p in exc.problems]
    if custom.id != bundle.profile:
        return None, [
            Problem(
                "profile",
                "custom-profile",
                f"{bundle.profile} is not the profile its config defines ({custom.id})",
            )
        ]
    return custom, []
