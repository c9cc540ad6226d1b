namespace Vae.Devices.OpenCl;

/// <summary>
/// An OpenCL call failed on a working OpenCL installation. A missing driver or device is reported
/// as <see cref="DeviceUnavailableException"/> instead, so that callers can tell "fall back" from
/// "fix the kernel".
/// </summary>
public sealed class OpenClException : Exception
{
    /// <summary>
    /// Creates the exception for a failed call, e.g. "clBuildProgram failed with
    /// CL_BUILD_PROGRAM_FAILURE (-11)", followed by <paramref name="detail"/> and the build log.
    /// </summary>
    public OpenClException(string function, int errorCode, string? detail = null, string? buildLog = null)
        : this(function, errorCode, detail, buildLog, sourceExcerpt: null)
    {
    }

    /// <summary>As above, with the offending source lines quoted after the build log.</summary>
    internal OpenClException(string function, int errorCode, string? detail, string? buildLog, string? sourceExcerpt)
        : base(Compose(function, errorCode, detail, buildLog, sourceExcerpt))
    {
        ErrorCode = errorCode;
        ErrorName = OpenClNative.ErrorName(errorCode);
        BuildLog = buildLog;
    }

    /// <summary>The raw status code (a negative cl_int).</summary>
    public int ErrorCode { get; }

    /// <summary>The symbolic name of <see cref="ErrorCode"/>, e.g. CL_INVALID_KERNEL_NAME.</summary>
    public string ErrorName { get; }

    /// <summary>The compiler's full output when a program failed to build; otherwise null.</summary>
    public string? BuildLog { get; }

    private static string Compose(string function, int errorCode, string? detail, string? buildLog, string? sourceExcerpt)
    {
        var message = $"{function} failed with {OpenClNative.ErrorName(errorCode)} ({errorCode})";
        if (!string.IsNullOrEmpty(detail))
            message += ": " + detail;
        // The log is the only useful part of a build failure, so it goes into the message itself:
        // test runners and logs print Message, and rarely a custom property.
        if (buildLog is not null)
            message += Environment.NewLine + "Build log:" + Environment.NewLine + buildLog;
        if (!string.IsNullOrEmpty(sourceExcerpt))
            message += Environment.NewLine + "Source:" + Environment.NewLine + sourceExcerpt;
        return message;
    }
}
