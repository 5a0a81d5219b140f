namespace ConntrackTuning.Engine.Health;

/// <summary>How bad a finding is. The order is the point: a larger value is worse.</summary>
internal enum HealthSeverity
{
    Ok = 0,
    Info = 1,
    Warning = 2,
    Critical = 3,
}

/// <summary>What one check concluded.</summary>
internal sealed record HealthResult(HealthSeverity Severity, string Message, string? Recommendation = null, string? Evidence = null);

/// <summary>One check: a name and a function of the shared context. Adding a check is adding one of these to the list.</summary>
internal sealed record HealthCheck(string Name, Func<HealthContext, IEnumerable<HealthResult>> Run);
