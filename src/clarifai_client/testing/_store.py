"""The local server's in-memory data: users' apps, and each app's inputs and concepts."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Optional

from clarifai_client.grpc.api import resources_pb2

__all__ = ["AppData", "Store"]


@dataclass
class AppData:
    """One app and what it holds (inputs and concepts in insertion order)."""

    app: resources_pb2.App
    inputs: dict[str, resources_pb2.Input] = field(default_factory=dict)
    concepts: dict[str, resources_pb2.Concept] = field(default_factory=dict)


class Store:
    """Apps keyed by (user_id, app_id). Hold :attr:`lock` while reading or changing anything."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self._apps: dict[tuple[str, str], AppData] = {}

    def create_app(self, user_id: str, app: resources_pb2.App) -> Optional[AppData]:
        """Add a copy of ``app`` owned by ``user_id``; None if that user already has the app ID."""
        with self.lock:
            if (user_id, app.id) in self._apps:
                return None
            stored = resources_pb2.App()
            stored.CopyFrom(app)
            stored.user_id = user_id
            stored.name = stored.name or app.id
            stored.created_at.GetCurrentTime()
            stored.modified_at.CopyFrom(stored.created_at)
            data = AppData(stored)
            self._apps[(user_id, app.id)] = data
            return data

    def app(self, user_id: str, app_id: str) -> Optional[AppData]:
        """The app, or None."""
        with self.lock:
            return self._apps.get((user_id, app_id))

    def apps_of(self, user_id: str) -> list[resources_pb2.App]:
        """The user's apps, oldest first."""
        with self.lock:
            return [data.app for (owner, _), data in self._apps.items() if owner == user_id]

    def delete_app(self, user_id: str, app_id: str) -> bool:
        """Delete the app and everything in it; False if it did not exist."""
        with self.lock:
            return self._apps.pop((user_id, app_id), None) is not None
