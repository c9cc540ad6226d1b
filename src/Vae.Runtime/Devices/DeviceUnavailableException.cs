namespace Vae;

/// <summary>
/// Thrown when a compute backend cannot be used on this machine: its driver library is missing,
/// it reports no platform or device, or the requested device does not exist.
/// </summary>
/// <remarks>
/// One shared type for every backend so that callers can fall back (e.g. to the CPU) with a single
/// <c>catch</c>, while anything else that goes wrong on a working device surfaces as that
/// backend's own exception type.
/// </remarks>
public sealed class DeviceUnavailableException : Exception
{
    /// <summary>With a generic message; prefer one that names what to install.</summary>
    public DeviceUnavailableException()
        : base("The requested compute device is not available.")
    {
    }

    /// <summary>With a message that says what is missing and what to install.</summary>
    public DeviceUnavailableException(string message)
        : base(message)
    {
    }

    /// <summary>With a message and the failure that revealed the missing device (e.g. a DllNotFoundException).</summary>
    public DeviceUnavailableException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}
