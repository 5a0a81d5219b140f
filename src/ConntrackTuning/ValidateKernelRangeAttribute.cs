namespace ConntrackTuning;

/// <summary>
/// A range check in the parameter's own type (Int64), with a message that names the kernel's bound and why it is
/// one.
/// </summary>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Field)]
public sealed class ValidateKernelRangeAttribute : ValidateInt64Attribute
{
    public ValidateKernelRangeAttribute(long minimum, long maximum, string bound)
    {
        Minimum = minimum;
        Maximum = maximum;
        Bound = bound;
    }

    public long Minimum { get; }

    public long Maximum { get; }

    /// <summary>Why the maximum is the kernel's, as the end of a sentence ("the kernel keeps nf_conntrack_max in a signed 32-bit int").</summary>
    public string Bound { get; }

    protected override void Validate(long value)
    {
        if (value < Minimum)
        {
            throw new ValidationMetadataException(string.Create(CultureInfo.InvariantCulture,
                $"{value} is below the smallest value accepted, {Minimum}. Supply a value from {Minimum} to {Maximum}."));
        }

        if (value > Maximum)
        {
            throw new ValidationMetadataException(string.Create(CultureInfo.InvariantCulture,
                $"{value} is above {Maximum}, the most {Bound}. Supply a value from {Minimum} to {Maximum}."));
        }
    }
}
