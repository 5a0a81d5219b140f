using System.Collections.Generic;

namespace ConntrackTuning.Fuzz;

/// <summary>
/// One thing to fuzz: seed inputs to mutate, and the code to run on an input. Run may throw only the
/// engine's own ConntrackException (a reported, named failure); anything else is a crash.
/// </summary>
public abstract class FuzzTarget
{
    public abstract string Name { get; }

    /// <summary>Well-formed examples the mutator starts from.</summary>
    public abstract IEnumerable<byte[]> Seeds(string fixturesDirectory);

    public abstract void Run(byte[] input);

    /// <summary>Called once before <see cref="Seeds"/> and the loop, so a target can prepare scratch space.</summary>
    public virtual void Setup(string fixturesDirectory) { }

    public virtual void Teardown() { }

    protected static IEnumerable<byte[]> Lines(params string[] lines)
    {
        foreach (string line in lines)
        {
            yield return System.Text.Encoding.UTF8.GetBytes(line);
        }
    }

    protected static string Text(byte[] input) => System.Text.Encoding.UTF8.GetString(input);
}
