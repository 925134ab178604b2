"""The FreeSWITCH nodes a dialer originates through, and which one gets the next call.

Each node has a capacity: ``max_sessions`` (simultaneous channels) and
``sps`` (sessions per second), from ``FREESWITCH_NODES``. Live channels per
node are counted in Redis (a slot set shared by every dialer worker), so the
choice is global: each originate goes to the least-loaded node, as a fraction
of its capacity, that still has room and a connected event socket. The node's
sps is one of the rates the pacer reserves against.
"""

from __future__ import annotations

from dataclasses import dataclass

from freeswitch.inbound import InboundClient, parse_node

from dialer.pacing import Pacer, Rate


@dataclass(frozen=True)
class Node:
    """One FreeSWITCH node: its event socket and capacities."""

    host: str
    port: int
    password: str
    max_sessions: int = 1000
    sps: int = 30

    @property
    def name(self) -> str:
        """Stable identifier used in Redis keys and attempt rows: ``host:port``."""
        return f"{self.host}:{self.port}"


def parse_nodes(value: str) -> list[Node]:
    """Read FREESWITCH_NODES (comma-separated ``host:port:password[:max_sessions[:sps]]``)."""
    nodes = [Node(**parse_node(part)) for part in value.split(",") if part.strip()]
    if not nodes:
        raise ValueError("FREESWITCH_NODES names no node")
    names = [n.name for n in nodes]
    if len(set(names)) != len(names):
        raise ValueError("FREESWITCH_NODES names a node twice")
    return nodes


class NodePool:
    """The nodes, their ESL clients (owned by the caller) and the shared per-node slot counts."""

    def __init__(self, nodes: list[Node], pacer: Pacer, clients: dict[str, InboundClient] | None = None):
        self.nodes = {n.name: n for n in nodes}
        self.pacer = pacer
        self.clients: dict[str, InboundClient] = clients or {}

    def slots_key(self, node: Node) -> str:
        """Redis slot set of the node's live channels."""
        return self.pacer.slots_key("node", node.name)

    def rate(self, node: Node) -> Rate:
        """The node's sessions-per-second limit.

        FreeSWITCH decrements its per-second budget before testing it, so
        ``sps N`` admits N-1 sessions a second; the rate leaves that margin.
        """
        return Rate.per_second(self.pacer.rate_key("node", node.name), max(1, node.sps - 1))

    def load(self, node: Node) -> float:
        """Live channels as a fraction of max_sessions."""
        return self.pacer.slots_in_use(self.slots_key(node)) / node.max_sessions

    def acquire(self, call_uuid: str, ttl: float) -> Node | None:
        """Take a channel slot on the least-loaded connected node with room; None when all are full or down."""
        candidates = []
        for node in self.nodes.values():
            client = self.clients.get(node.name)
            if client is not None and not client.connected:
                continue
            candidates.append((self.load(node), node.name, node))
        for _, _, node in sorted(candidates):
            if self.pacer.acquire_slot(self.slots_key(node), call_uuid, node.max_sessions, ttl):
                return node
        return None

    def pick(self) -> Node | None:
        """The least-loaded connected node that has room right now (no slot is taken)."""
        best = None
        for node in self.nodes.values():
            client = self.clients.get(node.name)
            if client is not None and not client.connected:
                continue
            load = self.load(node)
            if load < 1.0 and (best is None or load < best[0]):
                best = (load, node)
        return best[1] if best else None

    def release(self, node_name: str | None, call_uuid: str) -> None:
        """Give back a call's channel slot on its node."""
        node = self.nodes.get(node_name or "")
        if node is not None:
            self.pacer.release_slot(self.slots_key(node), call_uuid)

    def client(self, node_name: str | None) -> InboundClient | None:
        """The ESL client of a node (None when this process has none for it)."""
        return self.clients.get(node_name or "")
