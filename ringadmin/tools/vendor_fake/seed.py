"""The fake account's seed data: one RingCentral account with a RingCX main account.

Fixed ids, so tests, the demo and a person reading the README can name them. Sizes are chosen
so paging matters: one monitoring group has 250 members (three pages at the default 100) and
the account has 256 extensions (three pages of presence).
"""

from __future__ import annotations

from dataclasses import dataclass, field

ACCOUNT_ID = "123456789"  # the RingCentral (platform) account id, also RingCX's rcAccountId
MAIN_NUMBER = "+16505550100"
BRAND_NAME = "RingCentral"
OWNER_EXTENSION_ID = "700000"  # the user the JWT belongs to (owner_id of every token)
OWNER_EXTENSION_NUMBER = "100"

RINGCX_MAIN_ACCOUNT_ID = "99990000"
RINGCX_SUB_ACCOUNT_IDS = ("99990001", "99990002")
RINGCX_ADMIN_ID = 7001
RINGCX_AGENT_GROUP_ID = 3001

SUPERVISOR_IDS = ("700001", "700002", "700003")
AGENT_COUNT = 252
FIRST_AGENT_ID = 800001


@dataclass(frozen=True)
class Extension:
    id: str
    number: str
    first_name: str
    last_name: str

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}"


@dataclass(frozen=True)
class Device:
    id: str
    extension_id: str
    type: str  # SoftPhone | HardPhone | OtherPhone
    name: str
    status: str  # Online | Offline


@dataclass(frozen=True)
class Group:
    id: str
    name: str
    # (extension id, permissions) in the order the API lists them
    members: tuple[tuple[str, tuple[str, ...]], ...]


@dataclass
class Party:
    id: str
    extension_id: str | None
    direction: str  # Inbound | Outbound, from this party's point of view
    from_: dict[str, str]
    to: dict[str, str]


@dataclass
class Call:
    """An active call: one telephony session with the agent's party and the customer's."""

    telephony_session_id: str
    session_id: str
    agent_extension_id: str
    direction: str  # as the agent sees it
    customer_number: str
    status: str  # Setup | Proceeding | Answered | Hold
    start_time: float
    parties: list[Party] = field(default_factory=list)

    @property
    def agent_party(self) -> Party:
        return self.parties[0]


def agent_id(index: int) -> str:
    """The extension id of the ``index``-th agent (1-based)."""
    return str(FIRST_AGENT_ID + index - 1)


def build_extensions() -> dict[str, Extension]:
    extensions = {
        OWNER_EXTENSION_ID: Extension(OWNER_EXTENSION_ID, OWNER_EXTENSION_NUMBER, "Fake", "Admin"),
        "700001": Extension("700001", "201", "Sam", "Supervisor"),
        "700002": Extension("700002", "202", "Sue", "Supervisor"),
        "700003": Extension("700003", "203", "Sid", "Supervisor"),
    }
    for index in range(1, AGENT_COUNT + 1):
        ext_id = agent_id(index)
        extensions[ext_id] = Extension(ext_id, str(1000 + index), "Agent", f"{index:03d}")
    return extensions


def build_devices() -> dict[str, Device]:
    devices = [
        Device("60011", "700001", "SoftPhone", "Sam's softphone", "Online"),
        Device("60012", "700001", "HardPhone", "Sam's desk phone", "Offline"),
        Device("60021", "700002", "HardPhone", "Sue's desk phone", "Online"),
        Device("60031", "700003", "OtherPhone", "Sid's browser phone (WebRTC)", "Online"),
        Device("60032", "700003", "SoftPhone", "Sid's softphone", "Offline"),
    ]
    devices += [
        Device(f"6{agent_id(i)}", agent_id(i), "SoftPhone", f"Agent {i:03d} softphone", "Online")
        for i in range(1, AGENT_COUNT + 1)
    ]
    return {device.id: device for device in devices}


MONITORING = ("Monitoring",)
MONITORED = ("Monitored",)


def build_groups() -> dict[str, Group]:
    groups = [
        Group(
            "5001",
            "Support Tier 1",
            (("700001", MONITORING), *((agent_id(i), MONITORED) for i in range(1, 5))),
        ),
        Group(
            "5002",
            "Sales Floor",
            (
                ("700001", MONITORING),
                ("700002", MONITORING),
                *((agent_id(i), MONITORED) for i in range(5, AGENT_COUNT + 1)),
            ),
        ),
        Group(
            "5003",
            "Escalations",
            (("700003", MONITORING), ("700001", MONITORED), (agent_id(3), MONITORED)),
        ),
    ]
    return {group.id: group for group in groups}


def make_call(
    *,
    telephony_session_id: str,
    session_id: str,
    agent: Extension,
    direction: str,
    customer_number: str,
    status: str,
    start_time: float,
) -> Call:
    """A call with its two parties, numbered the way RingCentral numbers them (``-1``, ``-2``)."""
    agent_end = {"phoneNumber": MAIN_NUMBER, "name": agent.name, "extensionId": agent.id}
    customer_end = {"phoneNumber": customer_number}
    if direction == "Inbound":
        from_, to = customer_end, agent_end
    else:
        from_, to = agent_end, customer_end
    base = telephony_session_id.removeprefix("s-")
    parties = [
        Party(f"p-{base}-1", agent.id, direction, dict(from_), dict(to)),
        Party(
            f"p-{base}-2",
            None,
            "Outbound" if direction == "Inbound" else "Inbound",
            dict(from_),
            dict(to),
        ),
    ]
    return Call(
        telephony_session_id=telephony_session_id,
        session_id=session_id,
        agent_extension_id=agent.id,
        direction=direction,
        customer_number=customer_number,
        status=status,
        start_time=start_time,
        parties=parties,
    )


# (telephony session id, session id, agent extension id, direction, customer, status)
SEED_CALLS = (
    ("s-fake-0001", "500000000001", agent_id(1), "Inbound", "+14155550101", "Answered"),
    ("s-fake-0002", "500000000002", agent_id(2), "Outbound", "+14155550102", "Answered"),
    ("s-fake-0003", "500000000003", agent_id(5), "Inbound", "+14155550103", "Answered"),
    ("s-fake-0004", "500000000004", agent_id(3), "Inbound", "+14155550104", "Proceeding"),
)


def build_calls(extensions: dict[str, Extension], now: float) -> dict[str, Call]:
    calls = {}
    for offset, (ts_id, session_id, agent, direction, customer, status) in enumerate(SEED_CALLS):
        calls[ts_id] = make_call(
            telephony_session_id=ts_id,
            session_id=session_id,
            agent=extensions[agent],
            direction=direction,
            customer_number=customer,
            status=status,
            start_time=now - 60 * (len(SEED_CALLS) - offset),
        )
    return calls
