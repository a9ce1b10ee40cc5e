"""A downstream consumer as its own process, for the tests that kill one mid-stream.

``python -m tests.api.changes_client URL TOKEN CONSUMER`` follows ``goldenRecordChanges``
for the named consumer over graphql-transport-ws (``gql``), acknowledges each event over
HTTP once it has taken it, and only then prints its position (one a line, flushed).
"""

from __future__ import annotations

import asyncio
import sys

import httpx
from gql import Client, GraphQLRequest
from gql.transport.websockets import WebsocketsTransport

SUBPROTOCOL = "graphql-transport-ws"
FOLLOW = """subscription($consumer: String, $after: String, $systems: [String!],
                         $entityTypes: [String!]) {
  goldenRecordChanges(consumer: $consumer, after: $after, systems: $systems,
                      entityTypes: $entityTypes) {
    position cursor kind goldenId mergedInto mergedFrom
    sourceIds { system sourceId } removedSourceIds { system sourceId }
  }
}"""
ACKNOWLEDGE = """mutation($consumer: String!, $position: ChangePosition!) {
  acknowledgeChanges(consumer: $consumer, position: $position) {
    __typename ... on UserError { code message field }
  }
}"""


def transport(url: str, token: str) -> WebsocketsTransport:
    """A graphql-transport-ws connection to the hub at ``url`` (http://…), token in the
    ``connection_init`` payload."""
    return WebsocketsTransport(
        url=url.replace("http://", "ws://", 1) + "/graphql",
        subprotocols=[SUBPROTOCOL],
        init_payload={"Authorization": f"Bearer {token}"},
    )


async def follow(url: str, token: str, consumer: str) -> None:
    async with (
        Client(transport=transport(url, token)) as session,
        httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {token}"}) as http,
    ):
        request = GraphQLRequest(FOLLOW, variable_values={"consumer": consumer})
        async for result in session.subscribe(request):
            position = result["goldenRecordChanges"]["position"]
            answer = await http.post(
                "/graphql",
                json={
                    "query": ACKNOWLEDGE,
                    "variables": {"consumer": consumer, "position": position},
                },
            )
            kind = answer.json()["data"]["acknowledgeChanges"]["__typename"]
            assert kind == "AcknowledgeChangesSuccess", answer.text
            print(position, flush=True)


if __name__ == "__main__":
    asyncio.run(follow(*sys.argv[1:4]))
