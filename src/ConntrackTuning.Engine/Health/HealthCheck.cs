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
internal sealed record HealthResult(HealthSeverity Severity, string Message, string? Recommendation = null, string? Evidence = null)
{
    /// <summary>The finding Test-ConntrackHealth outputs for this result of the check named, on the kernel checked.</summary>
    public ConntrackHealthFinding ToFinding(string check, ConntrackKernel kernel)
    {
        ArgumentNullException.ThrowIfNull(kernel);
        return new ConntrackHealthFinding
        {
            Severity = Severity.ToString(),
            SeverityLevel = (int)Severity,
            Check = check,
            Message = Message,
            Recommendation = Recommendation,
            Evidence = Evidence,
            NetworkNamespace = kernel.NetworkNamespace,
            Root = kernel.Root,
        };
    }
}

/// <summary>One check: a name and a function of the shared context. Adding a check is adding one of these to the list.</summary>
internal sealed record HealthCheck(string Name, Func<HealthContext, IEnumerable<HealthResult>> Run);
