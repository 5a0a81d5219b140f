namespace ConntrackTuning;

/// <summary>
/// A range check in the parameter's own type (Int64), with a message that names the kernel's bound and why it is
/// one. ValidateRange with int limits on a long parameter fails 2147483648 with a message about mismatched types.
/// </summary>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Field)]
public sealed class ValidateKernelRangeAttribute : ValidateArgumentsAttribute
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

    protected override void Validate(object arguments, EngineIntrinsics engineIntrinsics)
    {
        object value = arguments is PSObject wrapped ? wrapped.BaseObject : arguments;
        long number = Convert.ToInt64(value, CultureInfo.InvariantCulture);
        if (number < Minimum)
        {
            throw new ValidationMetadataException(string.Create(CultureInfo.InvariantCulture,
                $"{number} is below the smallest value accepted, {Minimum}. Supply a value from {Minimum} to {Maximum}."));
        }

        if (number > Maximum)
        {
            throw new ValidationMetadataException(string.Create(CultureInfo.InvariantCulture,
                $"{number} is above {Maximum}, the most {Bound}. Supply a value from {Minimum} to {Maximum}."));
        }
    }
}
