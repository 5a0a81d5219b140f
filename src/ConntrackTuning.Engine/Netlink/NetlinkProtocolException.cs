namespace ConntrackTuning.Engine.Netlink;

/// <summary>The kernel's reply broke the netlink framing rules: a truncated datagram, a length past the end, an overrun.</summary>
internal sealed class NetlinkProtocolException : Exception
{
    public NetlinkProtocolException(string message) : base(message) { }

    public NetlinkProtocolException() { }

    public NetlinkProtocolException(string message, Exception inner) : base(message, inner) { }
}
