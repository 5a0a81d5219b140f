using System.Runtime.Versioning;

// Conntrack, /proc and /sys exist only on Linux; saying so lets the analyzers check platform-specific calls.
[assembly: SupportedOSPlatform("linux")]
