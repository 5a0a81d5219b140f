namespace ConntrackTuning.Engine.Netlink;

/// <summary>What a dump asks the kernel to filter. The kernel ignores what it does not know, so callers re-check.</summary>
internal sealed record KernelFilter
{
    /// <summary>0 for both families, 2 or 10 for one.</summary>
    public byte Family { get; init; }

    public (uint Value, uint Mask)? Mark { get; init; }

    public (uint Value, uint Mask)? Status { get; init; }

    public ushort? Zone { get; init; }

    /// <summary>CTA_FILTER fields of the original tuple; needs a family, so a family-0 dump is split in two.</summary>
    public byte? Protocol { get; init; }

    public uint? SourceV4 { get; init; }

    public uint? DestinationV4 { get; init; }

    public ushort? SourcePort { get; init; }

    public ushort? DestinationPort { get; init; }

    public bool HasTupleFilter => Protocol is not null || SourceV4 is not null || DestinationV4 is not null;

    public bool IsEmpty => Family == 0 && Mark is null && Status is null && Zone is null && !HasTupleFilter;

    public static KernelFilter None { get; } = new();

    /// <summary>The request for one family: tuple fields only go out with a family, IPv4 addresses only with IPv4.</summary>
    internal byte[] BuildDumpRequest(byte family, uint seq)
    {
        var b = new RequestBuilder(NetlinkWire.CtGet, NetlinkWire.FlagRequest | NetlinkWire.FlagDump, seq, family);
        if (Mark is { } mark)
        {
            b.BigEndian32(NetlinkWire.CtaMark, mark.Value);
            b.BigEndian32(NetlinkWire.CtaMarkMask, mark.Mask);
        }

        if (Status is { } status)
        {
            b.BigEndian32(NetlinkWire.CtaStatus, status.Value);
            b.BigEndian32(NetlinkWire.CtaStatusMask, status.Mask);
        }

        if (Zone is { } zone)
        {
            b.BigEndian16(NetlinkWire.CtaZone, zone);
        }

        if (family != 0 && Protocol is { } protocol)
        {
            uint flags = NetlinkWire.FilterProtoNum;
            b.BeginNest(NetlinkWire.CtaTupleOrig);
            uint? src = family == 2 ? SourceV4 : null;
            uint? dst = family == 2 ? DestinationV4 : null;
            if (src is not null || dst is not null)
            {
                b.BeginNest(NetlinkWire.CtaTupleIp);
                flags |= FilterField(b, NetlinkWire.CtaIpV4Src, src, NetlinkWire.FilterIpSrc);
                flags |= FilterField(b, NetlinkWire.CtaIpV4Dst, dst, NetlinkWire.FilterIpDst);
                b.EndNest();
            }

            b.BeginNest(NetlinkWire.CtaTupleProto);
            b.U8(NetlinkWire.CtaProtoNum, protocol);
            flags |= FilterField(b, NetlinkWire.CtaProtoSrcPort, SourcePort, NetlinkWire.FilterSrcPort);
            flags |= FilterField(b, NetlinkWire.CtaProtoDstPort, DestinationPort, NetlinkWire.FilterDstPort);
            b.EndNest();
            b.EndNest();
            b.BeginNest(NetlinkWire.CtaFilter);
            b.Host32(NetlinkWire.CtaFilterOrigFlags, flags);
            b.Host32(NetlinkWire.CtaFilterReplyFlags, 0);
            b.EndNest();
        }

        return b.ToArray();
    }

    // A tuple field goes out only when it is given, and then with its CTA_FILTER flag: the kernel compares the
    // flagged fields only. These return the flag to add (0 for a field not given).
    private static uint FilterField(RequestBuilder b, int type, uint? value, uint flag)
    {
        if (value is not { } v)
        {
            return 0;
        }

        b.BigEndian32(type, v);
        return flag;
    }

    private static uint FilterField(RequestBuilder b, int type, ushort? value, uint flag)
    {
        if (value is not { } v)
        {
            return 0;
        }

        b.BigEndian16(type, v);
        return flag;
    }
}

