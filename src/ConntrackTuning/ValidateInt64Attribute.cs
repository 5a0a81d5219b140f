namespace ConntrackTuning;

/// <summary>
/// Base of the checks of an Int64 parameter with messages of their own: the argument arrives boxed, or wrapped in
/// a PSObject when it comes from a variable or the pipeline, and is checked as a long, whatever integer type the
/// literal had (ValidateRange with int limits on a long parameter fails 2147483648 with a message about types).
/// </summary>
public abstract class ValidateInt64Attribute : ValidateArgumentsAttribute
{
    /// <summary>Throws a ValidationMetadataException, whose message PowerShell shows after the parameter's name.</summary>
    protected abstract void Validate(long value);

    protected sealed override void Validate(object arguments, EngineIntrinsics engineIntrinsics)
    {
        object value = arguments is PSObject wrapped ? wrapped.BaseObject : arguments;
        Validate(Convert.ToInt64(value, CultureInfo.InvariantCulture));
    }
}
