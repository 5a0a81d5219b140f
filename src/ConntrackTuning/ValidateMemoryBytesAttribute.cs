namespace ConntrackTuning;

/// <summary>
/// -MemoryBytes is in bytes, and the likeliest mistake is a bare number meant as MiB or GiB ("-MemoryBytes 512"),
/// which would size a table for a machine of 512 bytes. No machine that tracks connections has less than a few
/// MiB, so a smaller value is refused with the fix, rather than answered with a table of 128 entries.
/// </summary>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Field)]
public sealed class ValidateMemoryBytesAttribute : ValidateInt64Attribute
{
    /// <summary>4 MiB: below the RAM of the smallest routers that ran ip_conntrack on 2.4.</summary>
    public const long Minimum = 4L << 20;

    protected override void Validate(long value)
    {
        if (value < Minimum)
        {
            throw new ValidationMetadataException(string.Create(CultureInfo.InvariantCulture,
                $"{value} bytes is less RAM than any machine that tracks connections (at least {Minimum} bytes, 4 MiB). The value is in bytes: write the unit, as in {Math.Max(value, 1)}MB or {Math.Max(value, 1)}GB."));
        }
    }
}
