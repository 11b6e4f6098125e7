"""Country profiles as data: ``load_profile("cn")`` (see `profile` for the file layout)."""

from appliance.drivers.profiles.profile import (
    CallerId,
    CallerIdAlert,
    CallerIdStandard,
    CallerIdTiming,
    CountryProfile,
    HookFlash,
    LineImpedance,
    ProfileError,
    R2Variant,
    RingCadence,
    available_profiles,
    load_profile,
)

__all__ = [
    "CallerId",
    "CallerIdAlert",
    "CallerIdStandard",
    "CallerIdTiming",
    "CountryProfile",
    "HookFlash",
    "LineImpedance",
    "ProfileError",
    "R2Variant",
    "RingCadence",
    "available_profiles",
    "load_profile",
]
