namespace ConntrackTuning.Commands;

/// <summary>
/// Lets a TimeSpan parameter take a plain number as seconds (-Duration 30), as well as a TimeSpan or its text
/// (00:05:00). Without it PowerShell would read 30 as 30 ticks.
/// </summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class SecondsTransformationAttribute : ArgumentTransformationAttribute
{
    public override object Transform(EngineIntrinsics engineIntrinsics, object inputData)
    {
        object value = inputData is PSObject ps ? ps.BaseObject : inputData;
        return value switch
        {
            int or long or short or byte or uint or ulong or double or float or decimal =>
                TimeSpan.FromSeconds(Convert.ToDouble(value, CultureInfo.InvariantCulture)),
            string s when double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out double seconds) => TimeSpan.FromSeconds(seconds),
            _ => inputData,
        };
    }
}
