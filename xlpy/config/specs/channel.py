"""Channel specs: `channel = ["name=NAME, connection=pty|socket, path=PATH"]`."""

from __future__ import annotations

from xlpy.config.specs import SpecError
from xlpy.domain.devices import ChannelConnection, ChannelSocket, DeviceChannel


def parse_channel(spec: str, devid: int) -> DeviceChannel:
    channel = DeviceChannel(devid=devid)
    for piece in spec.split(","):
        key, sep, value = piece.strip().partition("=")
        if not sep:
            raise SpecError(f"Unknown string \"{piece.strip()}\" in channel spec")
        if key == "backend":
            channel.backend_domname = value
        elif key == "name":
            channel.name = value
        elif key == "connection":
            if value == "pty":
                channel.connection = ChannelConnection.PTY
            elif value == "socket":
                channel.connection = ChannelConnection.SOCKET
            else:
                raise SpecError(f'unknown channel connection \'{value}\'')
        elif key == "path":
            channel.socket = ChannelSocket(path=value)
        else:
            raise SpecError(f'Unknown string "{piece.strip()}" in channel spec')
    if channel.connection is ChannelConnection.UNKNOWN:
        raise SpecError("channel has no connection type: add connection=pty or connection=socket")
    if channel.connection is ChannelConnection.SOCKET and not channel.socket.path:
        raise SpecError("channel connection 'socket' requires path=..")
    return channel
