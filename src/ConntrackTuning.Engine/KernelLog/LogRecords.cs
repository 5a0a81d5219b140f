using System.Runtime.CompilerServices;
using System.Text.Json;

namespace ConntrackTuning.Engine.KernelLog;

/// <summary>
/// The self-describing record layouts: a raw /dev/kmsg record, an RFC 5424 line and journalctl's JSON. Each says
/// when and where by itself, with nothing inferred from the source.
/// </summary>
internal static class LogRecords
{
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static bool TryKmsg(string s, LogContext context, out ParsedLine parsed)
    {
        parsed = default;
        int semicolon = s.IndexOf(';', StringComparison.Ordinal);
        if (semicolon < 5 || semicolon > 64)
        {
            return false;
        }

        // prio,seq,usec,flags[,more];text
        string[] fields = s[..semicolon].Split(',');
        if (fields.Length < 4
            || !int.TryParse(fields[0], NumberStyles.None, CultureInfo.InvariantCulture, out _)
            || !long.TryParse(fields[1], NumberStyles.None, CultureInfo.InvariantCulture, out _)
            || !long.TryParse(fields[2], NumberStyles.None, CultureInfo.InvariantCulture, out long usec))
        {
            return false;
        }

        int end = s.IndexOf('\n', semicolon + 1);
        string text = Unescape(end < 0 ? s[(semicolon + 1)..] : s[(semicolon + 1)..end]);
        double kernelTime = usec / 1e6;
        DateTime? time = LogTimestamps.AfterBoot(context.BootTime, usec / 1e6);
        parsed = new ParsedLine(LogFormat.Kmsg, text, true, time, context.DefaultHost, kernelTime, context.CurrentBootId);
        return true;
    }

    /// <summary>kmsg escapes non-printable bytes (and backslashes) as \xNN; the message gets them back.</summary>
    internal static string Unescape(string text)
    {
        if (!text.Contains("\\x", StringComparison.Ordinal))
        {
            return text;
        }

        byte[] utf8 = Encoding.UTF8.GetBytes(text);
        var bytes = new byte[utf8.Length];
        int n = 0;
        for (int i = 0; i < utf8.Length; i++)
        {
            if (utf8[i] == (byte)'\\' && i + 3 < utf8.Length && utf8[i + 1] == (byte)'x'
                && byte.TryParse(Encoding.ASCII.GetString(utf8, i + 2, 2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out byte b))
            {
                bytes[n++] = b;
                i += 3;
            }
            else
            {
                bytes[n++] = utf8[i];
            }
        }

        return Encoding.UTF8.GetString(bytes, 0, n);
    }

    internal static bool TryRfc5424(string s, int i, out ParsedLine parsed)
    {
        parsed = default;
        DateTime? time = null;
        int afterTime;
        if (s[i] == '-')
        {
            afterTime = i + 1;
        }
        else if (LogTimestamps.TryIsoTime(s, i, out DateTime t, out afterTime))
        {
            time = t;
        }
        else
        {
            return false;
        }

        // HOSTNAME APP-NAME PROCID MSGID STRUCTURED-DATA MSG
        int p = LogText.SkipSpaces(s, afterTime);
        int hostEnd = LogText.TokenEnd(s, p);
        string host = s[p..hostEnd];
        p = LogText.SkipSpaces(s, hostEnd);
        int appEnd = LogText.TokenEnd(s, p);
        string app = s[p..appEnd];
        p = LogText.SkipSpaces(s, appEnd);
        p = LogText.SkipSpaces(s, LogText.TokenEnd(s, p));
        p = LogText.SkipSpaces(s, LogText.TokenEnd(s, p));
        if (p >= s.Length)
        {
            return false;
        }

        if (s[p] == '-')
        {
            p++;
        }
        else if (s[p] == '[')
        {
            while (p < s.Length && s[p] == '[')
            {
                int q = p + 1;
                while (q < s.Length && s[q] != ']')
                {
                    q += s[q] == '\\' ? 2 : 1;
                }

                p = Math.Min(q + 1, s.Length);
            }
        }
        else
        {
            return false;
        }

        p = LogText.SkipSpaces(s, p);
        if (p < s.Length && s[p] == '\uFEFF')
        {
            p++;
        }

        (string message, double? kernelTime) = LogLineParser.SplitKernelTime(s, p);
        parsed = new ParsedLine(LogFormat.Rfc5424, message, app is "kernel" or "-", time, host is "-" or "" ? null : host, kernelTime);
        return true;
    }

    internal static ParsedLine? ParseJson(string s)
    {
        try
        {
            using JsonDocument doc = JsonDocument.Parse(s, new JsonDocumentOptions { MaxDepth = 8 });
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
            {
                return null;
            }

            JsonElement root = doc.RootElement;
            string? message = root.TryGetProperty("MESSAGE", out JsonElement m) ? JsonText(m) : null;
            if (message is null)
            {
                return null;
            }

            string? transport = root.TryGetProperty("_TRANSPORT", out JsonElement tr) ? JsonText(tr) : null;
            string? identifier = root.TryGetProperty("SYSLOG_IDENTIFIER", out JsonElement id) ? JsonText(id) : null;
            bool isKernel = transport is not null ? transport == "kernel" : identifier is null or "kernel";
            DateTime? time = root.TryGetProperty("__REALTIME_TIMESTAMP", out JsonElement rt) && JsonLong(rt) is long usec && usec is > 0 and < LogTimestamps.MaxUnixMicroseconds
                ? DateTimeOffset.FromUnixTimeMilliseconds(usec / 1000).AddTicks(usec % 1000 * 10).LocalDateTime
                : null;
            double? kernelTime = root.TryGetProperty("_SOURCE_MONOTONIC_TIMESTAMP", out JsonElement mono) && JsonLong(mono) is long monoUsec
                ? monoUsec / 1e6
                : null;
            string? host = root.TryGetProperty("_HOSTNAME", out JsonElement h) ? JsonText(h) : null;
            string? boot = root.TryGetProperty("_BOOT_ID", out JsonElement b) ? JsonText(b) : null;
            return new ParsedLine(LogFormat.JournalJson, message, isKernel, time, host, kernelTime, boot);
        }
        catch (Exception e) when (e is JsonException or ArgumentException or InvalidOperationException)
        {
            // Not JSON, cut off, nested past the limit, or a string that is not valid UTF-16.
            return null;
        }
    }

    /// <summary>journald writes a field as a string, or as an array of byte values when it is not valid UTF-8.</summary>
    private static string? JsonText(JsonElement e)
    {
        if (e.ValueKind == JsonValueKind.String)
        {
            return e.GetString();
        }

        if (e.ValueKind == JsonValueKind.Array && e.GetArrayLength() <= 65536)
        {
            var bytes = new byte[e.GetArrayLength()];
            int k = 0;
            foreach (JsonElement item in e.EnumerateArray())
            {
                if (item.ValueKind != JsonValueKind.Number || !item.TryGetByte(out byte value))
                {
                    return null;
                }

                bytes[k++] = value;
            }

            return Encoding.UTF8.GetString(bytes);
        }

        return null;
    }

    private static long? JsonLong(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.String when long.TryParse(e.GetString(), NumberStyles.None, CultureInfo.InvariantCulture, out long v) => v,
        JsonValueKind.Number when e.TryGetInt64(out long v) => v,
        _ => null,
    };
}
