namespace ConntrackTuning.Engine.Kernel;

/// <summary>
/// The numeric part of a kernel release: 2.6.32.67, 3.10.0, 6.18.44. Vendor suffixes (-419.el5, -91-generic,
/// -fc-v669) are not part of the version; the full release string is kept beside it where it matters.
/// </summary>
internal readonly record struct KernelVersion(int Major, int Minor, int Patch = 0, int Sublevel = 0)
    : IComparable<KernelVersion>
{
    /// <summary>
    /// Reads the leading "a.b[.c[.d]]" of a release string. Never throws: anything else (null, junk, a
    /// component over six digits) is simply not a version.
    /// </summary>
    public static bool TryParse(string? release, out KernelVersion version)
    {
        version = default;
        if (release is null)
        {
            return false;
        }

        ReadOnlySpan<char> s = release.AsSpan().Trim();
        if (s.Length > 0 && (s[0] == 'v' || s[0] == 'V'))
        {
            s = s[1..];
        }

        Span<int> parts = stackalloc int[4];
        int count = 0;
        int i = 0;
        while (count < 4)
        {
            int start = i;
            while (i < s.Length && char.IsAsciiDigit(s[i]))
            {
                i++;
            }

            if (i == start || i - start > 6)
            {
                break;
            }

            parts[count++] = int.Parse(s[start..i], NumberStyles.None, CultureInfo.InvariantCulture);
            if (i + 1 < s.Length && s[i] == '.' && char.IsAsciiDigit(s[i + 1]))
            {
                i++;
                continue;
            }

            break;
        }

        // A bare "6" is not a kernel version, and a component of seven or more digits is junk, not a release.
        if (count < 2 || (i < s.Length && char.IsAsciiDigit(s[i])))
        {
            return false;
        }

        version = new KernelVersion(parts[0], parts[1], parts[2], parts[3]);
        return true;
    }

    /// <summary>Parses a version given by a user, with an error that says what the engine expects.</summary>
    public static KernelVersion Parse(string? text)
    {
        if (TryParse(text, out KernelVersion version))
        {
            return version;
        }

        throw new ConntrackException(ErrorIds.InvalidKernelVersion, ErrorKind.InvalidArgument,
            $"'{text}' is not a kernel version.", text,
            "Give a version such as 2.6.32, 4.19 or 5.15.0-91-generic (what 'uname -r' prints).");
    }

    public int CompareTo(KernelVersion other)
    {
        int c = Major.CompareTo(other.Major);
        if (c == 0) c = Minor.CompareTo(other.Minor);
        if (c == 0) c = Patch.CompareTo(other.Patch);
        if (c == 0) c = Sublevel.CompareTo(other.Sublevel);
        return c;
    }

    public static bool operator <(KernelVersion left, KernelVersion right) => left.CompareTo(right) < 0;

    public static bool operator >(KernelVersion left, KernelVersion right) => left.CompareTo(right) > 0;

    public static bool operator <=(KernelVersion left, KernelVersion right) => left.CompareTo(right) <= 0;

    public static bool operator >=(KernelVersion left, KernelVersion right) => left.CompareTo(right) >= 0;

    /// <summary>"2.6.32", or "2.6.32.67" when there is a fourth component; TryParse reads it back unchanged.</summary>
    public override string ToString() => Sublevel != 0
        ? string.Create(CultureInfo.InvariantCulture, $"{Major}.{Minor}.{Patch}.{Sublevel}")
        : string.Create(CultureInfo.InvariantCulture, $"{Major}.{Minor}.{Patch}");
}
