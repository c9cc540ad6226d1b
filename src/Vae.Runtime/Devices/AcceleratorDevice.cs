using Vae.Kernels.Accelerators;

namespace Vae.Devices;

/// <summary>
/// What the OpenCL and CUDA devices share: each model source is compiled once per device (models of one architecture
/// reuse it), and a model gets a backend over the compiled program.
/// </summary>
internal abstract class AcceleratorDevice<TProgram> : Device where TProgram : class, IDisposable
{
    private readonly Dictionary<string, TProgram> _programs = new(StringComparer.Ordinal);

    /// <summary>The whole program for this target: the dialect prelude and device library in front of the model's kernels.</summary>
    protected abstract string SourceOf(string modelSource);

    /// <summary>Compiles a source; a failure carries the compiler's log.</summary>
    protected abstract TProgram Compile(string source);

    protected abstract IModelBackend CreateBackend(ModelDescriptor descriptor, IAcceleratorKernels kernels, TProgram program);

    /// <summary>Releases the context after every program is gone.</summary>
    protected abstract void DisposeContext();

    /// <summary>Refuses, with the reason, a model this device cannot run, before its program is compiled.</summary>
    protected virtual void CheckCanRun(ModelDescriptor descriptor)
    {
    }

    internal override IModelBackend CreateBackend(ModelDescriptor descriptor, ModelKernels kernels)
    {
        if (kernels.Accelerator is null || kernels.DeviceSource is null)
            throw new NotSupportedException($"Model '{descriptor.Name}' was generated without {Kind} kernels.");
        CheckCanRun(descriptor);
        var source = SourceOf(kernels.DeviceSource);
        TProgram? program;
        // Models may be created on one device from several threads; the cache is shared.
        lock (_programs)
        {
            if (!_programs.TryGetValue(source, out program))
            {
                program = Compile(source);
                _programs[source] = program;
            }
        }
        return CreateBackend(descriptor, kernels.Accelerator, program);
    }

    /// <summary>Runs once the models' buffers are freed: the programs, then the context.</summary>
    private protected override void ReleaseResources()
    {
        lock (_programs)
        {
            foreach (var p in _programs.Values) p.Dispose();
            _programs.Clear();
        }
        DisposeContext();
    }
}
