using System.Reflection;
using Vae.Files;
using Vae.Runtime.Tests.Models;

namespace Vae.Runtime.Tests.Safety;

/// <summary>
/// The test assembly's entry point when it runs as a program: <c>dotnet Vae.Runtime.Tests.dll stress CASE DEVICE</c>
/// runs one misuse scenario of the public API (<see cref="Cases"/>) on cpu or opencl and prints one line per check.
/// <see cref="SafetyStressTests"/> starts it as a child process, so a native crash shows as an exit code instead of
/// taking the test host down. Exit codes: 0 every check saw the documented outcome, 3 some did not, 64 bad usage,
/// 65 the device is unavailable.
/// </summary>
public static class StressProgram
{
    public const int AllAsDocumented = 0;
    public const int NotAsDocumented = 3;
    public const int BadUsage = 64;
    public const int DeviceUnavailable = 65;

    public static readonly IReadOnlyDictionary<string, Action<Checks, Func<Device>>> Cases = new Dictionary<string, Action<Checks, Func<Device>>>
    {
        ["disposed-model"] = DisposedModel,
        ["disposed-device"] = DisposedDevice,
        ["dispose-during-calls"] = DisposeDuringCalls,
        ["concurrent-calls"] = ConcurrentCalls,
        ["reentrant-call"] = ReentrantCall,
        ["bad-arguments"] = BadArguments,
    };

    public static int Main(string[] args)
    {
        if (args.Length > 0 && args[0] == "mpi") return Distributed.MpiWorker.Run(args[1..]);
        if (args is [Kernels.IsaProgram.Command]) return Kernels.IsaProgram.Run();
        if (args.Length != 3 || args[0] != "stress" || !Cases.TryGetValue(args[1], out var scenario) || args[2] is not ("cpu" or "opencl"))
        {
            Console.Error.WriteLine($"usage: Vae.Runtime.Tests stress {string.Join('|', Cases.Keys)} cpu|opencl");
            return BadUsage;
        }
        Func<Device> open = args[2] == "cpu" ? () => Device.Cpu(2) : () => Device.OpenCl();
        try
        {
            open().Dispose();
        }
        catch (DeviceUnavailableException e)
        {
            Console.WriteLine("unavailable: " + e.Message);
            return DeviceUnavailable;
        }
        var checks = new Checks(Console.Out);
        scenario(checks, open);
        Console.WriteLine($"{checks.Passed} checks as documented, {checks.Failed} not");
        return checks.Failed == 0 ? AllAsDocumented : NotAsDocumented;
    }

    /// <summary>A small model with every kind of layer the stress needs; L = 3 and Beta = 0.5 exercise the sizes.</summary>
    private static DeepVae NewModel(Device device) => new(device, seed: 5);

    private static Adam NewOptimizer() => new(1e-3f);

    // ---- the scenarios -------------------------------------------------------------------------------------------

    /// <summary>Every public member of a disposed model throws ObjectDisposedException; the device lives on.</summary>
    private static void DisposedModel(Checks checks, Func<Device> open)
    {
        using var device = open();
        var model = NewModel(device);
        var d = model.Architecture;
        model.TrainStep(TestData.Inputs(d, 4, 1), NewOptimizer());
        model.Dispose();
        EveryMemberThrows(checks, model, "disposed model", "has been disposed");
        checks.Returns("a second Dispose", model.Dispose);
        checks.Returns("Architecture after Dispose", () => _ = model.Architecture.Name);
        checks.Returns("Device after Dispose", () => _ = model.Device.Name);
        checks.Returns("a new model on the same device trains", () =>
        {
            using var again = NewModel(device);
            again.TrainStep(TestData.Inputs(d, 4, 1), NewOptimizer());
        });
    }

    /// <summary>A model whose device is disposed throws ObjectDisposedException from every member; disposing it is fine.</summary>
    private static void DisposedDevice(Checks checks, Func<Device> open)
    {
        var device = open();
        var model = NewModel(device);
        model.TrainStep(TestData.Inputs(model.Architecture, 4, 1), NewOptimizer());
        device.Dispose();
        EveryMemberThrows(checks, model, "model of a disposed device", "device");
        checks.Throws<ObjectDisposedException>("a new model on a disposed device", () => NewModel(device).Dispose());
        checks.Returns("Dispose of the model after its device", model.Dispose);
        checks.Returns("a second device Dispose", device.Dispose);
        checks.Returns("Device.IsDisposed", () => { if (!device.IsDisposed) throw new InvalidOperationException("IsDisposed is false"); });
    }

    /// <summary>
    /// The device or the model disposed from one thread while another is in the middle of calls: the caller gets
    /// ObjectDisposedException from its next call, never a crash or a hang, and the memory is freed after the call.
    /// </summary>
    private static void DisposeDuringCalls(Checks checks, Func<Device> open)
    {
        var random = new Random(14);
        int rounds = 40, clean = 0;
        for (int round = 0; round < rounds; round++)
        {
            var device = open();
            var model = NewModel(device);
            var d = model.Architecture;
            var x = TestData.Inputs(d, 16, (ulong)round);
            var mu = new float[16 * d.Latent];
            var logVar = new float[16 * d.Latent];
            var optimizer = NewOptimizer();
            Exception? outcome = null;
            int calls = 0;
            using var started = new ManualResetEventSlim();
            var worker = new Thread(() =>
            {
                try
                {
                    while (true)
                    {
                        switch (calls++ % 4)
                        {
                            case 0: model.TrainStep(x, optimizer); break;
                            case 1: model.Encode(x, mu, logVar); break;
                            case 2: _ = model.GetParameters(); break;
                            default: _ = model.Elbo(x); break;
                        }
                        started.Set();
                    }
                }
                catch (Exception e)
                {
                    outcome = e;
                    started.Set();
                }
            });
            worker.Start();
            started.Wait();
            Thread.Sleep(random.Next(0, 4));
            bool disposeDevice = round % 2 == 0;
            if (disposeDevice) device.Dispose(); else model.Dispose();
            if (!worker.Join(TimeSpan.FromSeconds(30)))
            {
                checks.Fail($"round {round}", "the calling thread did not stop within 30 s (a hang)");
                return;
            }
            if (outcome is ObjectDisposedException) clean++;
            else checks.Fail($"round {round} ({(disposeDevice ? "device" : "model")} disposed after {calls} calls)", $"the caller got {Describe(outcome)}");
            model.Dispose();
            device.Dispose();
        }
        checks.Pass($"{clean} of {rounds} rounds: the caller got ObjectDisposedException after the device (even rounds) or the model (odd) was disposed mid-calls");
    }

    /// <summary>
    /// Two threads calling one model: overlapping calls are refused with InvalidOperationException saying the model
    /// is not thread-safe; a refused call changes nothing, so the step count equals the training steps that ran.
    /// </summary>
    private static void ConcurrentCalls(Checks checks, Func<Device> open)
    {
        using var device = open();
        using var model = NewModel(device);
        var d = model.Architecture;
        int perThread = device.Kind == "cpu" ? 400 : 100;
        int refused = 0, trained = 0;
        var unexpected = new List<string>();
        using var barrier = new Barrier(2);
        var threads = Enumerable.Range(0, 2).Select(t => new Thread(() =>
        {
            var x = TestData.Inputs(d, 8, (ulong)t);
            var eps = TestData.Noise(d, 8, (ulong)t);
            var optimizer = NewOptimizer();
            var mu = new float[8 * d.Latent];
            barrier.SignalAndWait();
            for (int i = 0; i < perThread; i++)
            {
                try
                {
                    if (i % 2 == 0)
                    {
                        model.TrainStep(x, eps, optimizer);
                        Interlocked.Increment(ref trained);
                    }
                    else
                    {
                        model.Encode(x, mu, new float[mu.Length]);
                    }
                }
                catch (InvalidOperationException e) when (e.Message.Contains("not thread-safe"))
                {
                    Interlocked.Increment(ref refused);
                }
                catch (Exception e)
                {
                    lock (unexpected) unexpected.Add(Describe(e));
                }
            }
        })).ToArray();
        foreach (var t in threads) t.Start();
        foreach (var t in threads)
        {
            if (!t.Join(TimeSpan.FromSeconds(120)))
            {
                checks.Fail("two threads on one model", "a thread did not finish within 120 s (a hang)");
                return;
            }
        }
        foreach (var u in unexpected.Distinct()) checks.Fail("two threads on one model", "a call got " + u);
        if (refused == 0) checks.Fail("two threads on one model", $"no overlapping call was refused in {2 * perThread} calls");
        else checks.Pass($"two threads on one model: {refused} of {2 * perThread} overlapping calls refused with 'not thread-safe'");
        if (model.Step == trained) checks.Pass($"the step count is the {trained} training steps that ran (refused calls changed nothing)");
        else checks.Fail("step count", $"Step is {model.Step} after {trained} training steps");
        checks.Returns("the model works after the contention", () => model.TrainStep(TestData.Inputs(d, 4, 9), NewOptimizer()));
    }

    /// <summary>A progress callback that calls back into the model it reports on is refused, and the outer call completes.</summary>
    private static void ReentrantCall(Checks checks, Func<Device> open)
    {
        using var device = open();
        using var model = NewModel(device);
        var d = model.Architecture;
        var x = TestData.Inputs(d, 4, 3);
        Exception? inner = null;
        var progress = new SyncProgress(_ =>
        {
            try { model.Encode(x, new float[4 * d.Latent], new float[4 * d.Latent]); }
            catch (Exception e) { inner = e; }
        });
        checks.Returns("NegativeLogLikelihood with a callback calling the model", () => model.NegativeLogLikelihood(x, 8, progress: progress));
        if (inner is InvalidOperationException e && e.Message.Contains("already running on this thread")) checks.Pass("the nested call was refused: " + e.Message);
        else checks.Fail("the nested call", $"got {Describe(inner)}");
        checks.Returns("a call after the callback", () => model.Encode(x, new float[4 * d.Latent], new float[4 * d.Latent]));
    }

    /// <summary>Sizes that overflow and hyperparameters out of range are argument errors, before any native work.</summary>
    private static void BadArguments(Checks checks, Func<Device> open)
    {
        using var device = open();
        using var model = NewModel(device);
        var d = model.Architecture;
        var x = TestData.Inputs(d, 4, 1);
        var optimizer = NewOptimizer();
        int max = model.MaxBatchSize;

        // Sizes.
        checks.Throws<ArgumentException>("Sample(int.MaxValue): [count, Input] overflows an array", () => model.Sample(int.MaxValue, 1));
        checks.Throws<ArgumentException>("Sample(-1)", () => model.Sample(-1, 1));
        checks.Throws<ArgumentException>($"TrainStep on {max + 1} rows (limit {max})", () => model.TrainStep(new float[(max + 1) * d.Input], optimizer));
        checks.Throws<ArgumentException>("TrainStep on 0 rows", () => model.TrainStep([], optimizer));
        checks.Throws<ArgumentException>("TrainStep with firstExample so the rows pass int.MaxValue", () => model.TrainStep(x, optimizer, firstExample: int.MaxValue - 1));
        checks.Throws<ArgumentException>("TrainStep with firstExample -1", () => model.TrainStep(x, optimizer, firstExample: -1));
        int rows = x.Length / d.Input;
        checks.Throws<ArgumentException>("a rank's TrainStep whose rows run past the global batch",
            () => model.TrainStep(x, default, optimizer, null, 1, rows, SingleProcessCommunicator.Instance));
        checks.Throws<ArgumentException>("a rank's TrainStep with a global batch of 0",
            () => model.TrainStep(x, default, optimizer, null, 0, 0, SingleProcessCommunicator.Instance));
        checks.Throws<ArgumentNullException>("a rank's TrainStep without a communicator",
            () => model.TrainStep(x, default, optimizer, null, 0, rows, null!));
        checks.Throws<ArgumentException>("x not a whole number of rows", () => model.Elbo(new float[d.Input + 1]));
        checks.Throws<ArgumentException>("eps of the wrong length", () => model.Loss(x, new float[3]));
        checks.Throws<ArgumentException>("gradients of the wrong length", () => model.ComputeGradients(x, TestData.Noise(d, 4, 1), new float[1]));
        checks.Throws<ArgumentException>("mu of the wrong length", () => model.Encode(x, new float[1], new float[4 * d.Latent]));
        checks.Throws<ArgumentException>("z not a whole number of rows", () => model.Decode(new float[d.Latent + 1], new float[2 * d.Input]));
        checks.Throws<ArgumentException>("NegativeLogLikelihood with K = 0", () => model.NegativeLogLikelihood(x, 0));
        checks.Throws<ArgumentException>("SetParameters of the wrong length", () => model.SetParameters(new float[d.ParameterCount - 1]));
        checks.Throws<ArgumentException>("a tensor descriptor of more than int.MaxValue floats", () =>
            new ModelDescriptor("Huge", 1, 1, Likelihood.Bernoulli, 1, 1, 1, [], [], [new TensorDescriptor("w", [65536, 65536], 0, FanIn: 1)]));

        // Hyperparameters.
        foreach (float bad in new[] { float.NaN, -1f, float.PositiveInfinity })
        {
            checks.Throws<ArgumentException>($"KlWeight = {bad}", () => model.KlWeight = bad);
            checks.Throws<ArgumentException>($"TrainStep clipping to {bad}", () => model.TrainStep(x, optimizer, clipGradientNorm: bad));
            checks.Throws<ArgumentException>($"Adam learning rate {bad}", () => new Adam(bad));
            checks.Throws<ArgumentException>($"SGD learning rate {bad}", () => new Sgd(bad));
            checks.Throws<ArgumentException>($"Adam epsilon {bad}", () => new Adam(epsilon: bad));
            checks.Throws<ArgumentException>($"Adam weight decay {bad}", () => new Adam(weightDecay: bad));
            checks.Throws<ArgumentException>($"Trainer.ClipGradientNorm = {bad}", () => new Trainer(model, optimizer).ClipGradientNorm = bad);
            checks.Throws<ArgumentException>($"Learning rate set to {bad}", () => optimizer.LearningRate = bad);
        }
        checks.Throws<ArgumentException>("TrainStep clipping to 0", () => model.TrainStep(x, optimizer, clipGradientNorm: 0));
        checks.Throws<ArgumentException>("Adam beta1 = 1", () => new Adam(beta1: 1));
        checks.Throws<ArgumentException>("Adam beta2 = -0.1", () => new Adam(beta2: -0.1f));
        checks.Throws<ArgumentException>("SGD momentum = 1", () => new Sgd(0.1f, momentum: 1));
        checks.Throws<ArgumentException>("Trainer batch 0", () => new Trainer(model, optimizer, batchSize: 0));
        checks.Throws<ArgumentException>($"Trainer batch {max + 1} above the device's {max}", () => new Trainer(model, optimizer, batchSize: max + 1));
        checks.Returns($"Trainer batch {max}, the device's limit", () => new Trainer(model, optimizer, batchSize: max));
        checks.Throws<ArgumentException>("Trainer.ReportEvery = 0", () => new Trainer(model, optimizer).ReportEvery = 0);
        checks.Throws<ArgumentException>("Trainer.EpochsCompleted = -1", () => new Trainer(model, optimizer).EpochsCompleted = -1);
        checks.Throws<ArgumentException>("Trainer.Fit with -1 epochs", () => new Trainer(model, optimizer).Fit(x, -1));
        checks.Throws<ArgumentException>("Device.Cpu(-1)", () => Device.Cpu(-1).Dispose());
        checks.Throws<ArgumentException>($"Device.Cpu({Device.MaxCpuThreads + 1})", () => Device.Cpu(Device.MaxCpuThreads + 1).Dispose());
        checks.Throws<ArgumentException>("Device.OpenCl(-1)", () => Device.OpenCl(-1).Dispose());
        checks.Throws<ArgumentException>("Device.FromName(\"gpu\")", () => Device.FromName("gpu").Dispose());
        checks.Returns("the model still trains after all the refusals", () => model.TrainStep(x, optimizer));
    }

    // ---- every public member -------------------------------------------------------------------------------------

    /// <summary>
    /// Calls every public instance member of <see cref="VaeModel"/> on <paramref name="model"/> and expects
    /// ObjectDisposedException from each, except Device, Architecture and Dispose (documented as usable after
    /// disposal). A reflection cross-check fails when a member is added without being listed here.
    /// </summary>
    private static void EveryMemberThrows(Checks checks, VaeModel model, string what, string messageContains)
    {
        var d = model.Architecture;
        int n = 2;
        var x = new float[n * d.Input];
        var eps = new float[n * d.LatentSamples * d.Latent];
        var z = new float[n * d.Latent];
        string tensor = d.Tensors[0].Name;
        var optimizer = NewOptimizer();
        string checkpoint = Path.Combine(Path.GetTempPath(), $"vae-stress-{Environment.ProcessId}.safetensors");
        var members = new (string Signature, Action Call)[]
        {
            ("GetParameters()", () => model.GetParameters()),
            ("SetParameters(ReadOnlySpan`1)", () => model.SetParameters(new float[d.ParameterCount])),
            ("GetTensor(String)", () => model.GetTensor(tensor)),
            ("SetTensor(String, ReadOnlySpan`1)", () => model.SetTensor(tensor, new float[d.Tensors[0].Length])),
            ("SetTensor(String, ReadOnlySpan`1, ReadOnlySpan`1)", () => model.SetTensor(tensor, d.Tensors[0].Shape, new float[d.Tensors[0].Length])),
            ("GetGradient(String)", () => model.GetGradient(tensor)),
            ("GetState()", () => model.GetState()),
            ("SetState(ReadOnlySpan`1)", () => model.SetState(new float[d.StateCount])),
            ("GetInt64Tensor(String)", () => model.GetInt64Tensor(tensor)),
            ("SetInt64Tensor(String, ReadOnlySpan`1)", () => model.SetInt64Tensor(tensor, new long[1])),
            ("Loss(ReadOnlySpan`1, ReadOnlySpan`1, Span`1)", () => model.Loss(x, eps)),
            ("ComputeGradients(ReadOnlySpan`1, ReadOnlySpan`1, Span`1)", () => model.ComputeGradients(x, eps, new float[d.ParameterCount])),
            ("TrainStep(ReadOnlySpan`1, Optimizer, Nullable`1, Int32)", () => model.TrainStep(x, optimizer)),
            ("TrainStep(ReadOnlySpan`1, ReadOnlySpan`1, Optimizer, Nullable`1)", () => model.TrainStep(x, eps, optimizer)),
            ("Encode(ReadOnlySpan`1, Span`1, Span`1)", () => model.Encode(x, z, new float[z.Length])),
            ("Decode(ReadOnlySpan`1, Span`1)", () => model.Decode(z, new float[x.Length])),
            ("Reconstruct(ReadOnlySpan`1, Span`1)", () => model.Reconstruct(x, new float[x.Length])),
            ("Reconstruct(ReadOnlySpan`1, ReadOnlySpan`1, Span`1)", () => model.Reconstruct(x, z, new float[x.Length])),
            ("Sample(Int32, UInt64)", () => model.Sample(n, 1)),
            ("Elbo(ReadOnlySpan`1, UInt64)", () => model.Elbo(x)),
            ("NegativeElbo(ReadOnlySpan`1, UInt64)", () => model.NegativeElbo(x)),
            ("NegativeLogLikelihood(ReadOnlySpan`1, Int32, UInt64, IProgress`1, CancellationToken)", () => model.NegativeLogLikelihood(x, 4)),
            ("get_Step()", () => _ = model.Step),
            ("get_Seed()", () => _ = model.Seed),
            ("get_KlWeight()", () => _ = model.KlWeight),
            ("set_KlWeight(Single)", () => model.KlWeight = 1),
            ("get_MaxBatchSize()", () => _ = model.MaxBatchSize),
            ("get_FreeBits()", () => _ = model.FreeBits),
            ("get_BucketsDuringBackward()", () => _ = model.BucketsDuringBackward),
            ("set_FreeBits(Single)", () => model.FreeBits = 0),
            // The overloads that take a conditional model's labels (empty here: the check comes first).
            ("Loss(ReadOnlySpan`1, ReadOnlySpan`1, ReadOnlySpan`1, Span`1)", () => model.Loss(x, ReadOnlySpan<int>.Empty, eps)),
            ("ComputeGradients(ReadOnlySpan`1, ReadOnlySpan`1, ReadOnlySpan`1, Span`1)", () => model.ComputeGradients(x, ReadOnlySpan<int>.Empty, eps, new float[d.ParameterCount])),
            ("TrainStep(ReadOnlySpan`1, ReadOnlySpan`1, Optimizer, Nullable`1, Int32)", () => model.TrainStep(x, ReadOnlySpan<int>.Empty, optimizer)),
            ("TrainStep(ReadOnlySpan`1, ReadOnlySpan`1, ReadOnlySpan`1, Optimizer, Nullable`1)", () => model.TrainStep(x, ReadOnlySpan<int>.Empty, eps, optimizer)),
            ("TrainStep(ReadOnlySpan`1, ReadOnlySpan`1, Optimizer, Nullable`1, Int32, Int32, ICommunicator)",
                () => model.TrainStep(x, ReadOnlySpan<int>.Empty, optimizer, null, 0, x.Length / model.Architecture.Input, SingleProcessCommunicator.Instance)),
            ("Encode(ReadOnlySpan`1, ReadOnlySpan`1, Span`1, Span`1)", () => model.Encode(x, ReadOnlySpan<int>.Empty, z, new float[z.Length])),
            ("Decode(ReadOnlySpan`1, ReadOnlySpan`1, Span`1)", () => model.Decode(z, ReadOnlySpan<int>.Empty, new float[x.Length])),
            ("Reconstruct(ReadOnlySpan`1, ReadOnlySpan`1, ReadOnlySpan`1, Span`1)", () => model.Reconstruct(x, ReadOnlySpan<int>.Empty, z, new float[x.Length])),
            ("Reconstruct(ReadOnlySpan`1, ReadOnlySpan`1, Span`1) with labels", () => model.Reconstruct(x, ReadOnlySpan<int>.Empty, new float[x.Length])),
            ("Sample(ReadOnlySpan`1, UInt64)", () => model.Sample(ReadOnlySpan<int>.Empty, 1)),
            // A VQ-VAE's entry points (a Gaussian model here: the disposal check comes first).
            ("EncodeCodes(ReadOnlySpan`1)", () => model.EncodeCodes(x)),
            ("EncodeCodes(ReadOnlySpan`1, Span`1)", () => model.EncodeCodes(x, new int[1])),
            ("DecodeCodes(ReadOnlySpan`1, Span`1)", () => model.DecodeCodes(new int[1], new float[x.Length])),
            ("CodeUsage(ReadOnlySpan`1)", () => model.CodeUsage(x)),
            ("Elbo(ReadOnlySpan`1, ReadOnlySpan`1, UInt64)", () => model.Elbo(x, ReadOnlySpan<int>.Empty)),
            ("NegativeElbo(ReadOnlySpan`1, ReadOnlySpan`1, UInt64)", () => model.NegativeElbo(x, ReadOnlySpan<int>.Empty)),
            ("NegativeLogLikelihood(ReadOnlySpan`1, ReadOnlySpan`1, Int32, UInt64, IProgress`1, CancellationToken)", () => model.NegativeLogLikelihood(x, ReadOnlySpan<int>.Empty, 4)),
        };
        foreach (var (signature, call) in members)
            checks.Throws<ObjectDisposedException>($"{what}: {signature}", call, messageContains);
        checks.Throws<ObjectDisposedException>($"{what}: Checkpoint.Save", () => Checkpoint.Save(model, checkpoint, optimizer), messageContains);
        checks.Throws<ObjectDisposedException>($"{what}: new Trainer", () => new Trainer(model, optimizer), messageContains);
        if (File.Exists(checkpoint)) checks.Fail($"{what}: Checkpoint.Save", "wrote a file");

        var exempt = new[] { "get_Device()", "get_Architecture()", "Dispose()" };
        var listed = members.Select(m => m.Signature).Concat(exempt).ToHashSet();
        var declared = typeof(VaeModel).GetMethods(BindingFlags.Public | BindingFlags.Instance | BindingFlags.DeclaredOnly)
            .Select(m => $"{m.Name}({string.Join(", ", m.GetParameters().Select(p => p.ParameterType.Name))})");
        foreach (var missing in declared.Where(s => !listed.Contains(s)))
            checks.Fail("member list", $"public member {missing} of VaeModel is not checked here");
    }

    private static string Describe(Exception? e) => e is null ? "no exception" : $"{e.GetType().Name}: {e.Message}";

    /// <summary>IProgress that reports on the calling thread (Progress&lt;T&gt; would post to the thread pool).</summary>
    private sealed class SyncProgress(Action<int> report) : IProgress<int>
    {
        public void Report(int value) => report(value);
    }
}

/// <summary>Counts and prints checks: "ok ..." when an outcome is the documented one, "FAIL ..." otherwise.</summary>
public sealed class Checks(TextWriter output)
{
    public int Passed { get; private set; }
    public int Failed { get; private set; }

    public void Pass(string what)
    {
        Passed++;
        output.WriteLine("ok   " + what);
    }

    public void Fail(string what, string why)
    {
        Failed++;
        output.WriteLine($"FAIL {what}: {why}");
    }

    /// <summary>Expects <typeparamref name="T"/> (or, for ArgumentException, any subclass) and nothing else.</summary>
    public void Throws<T>(string what, Action action, string? messageContains = null) where T : Exception
    {
        try
        {
            action();
            Fail(what, $"no exception (expected {typeof(T).Name})");
        }
        catch (Exception e) when (e.GetType() == typeof(T) || (typeof(T) == typeof(ArgumentException) && e is ArgumentException))
        {
            if (messageContains is not null && !e.Message.Contains(messageContains, StringComparison.Ordinal))
                Fail(what, $"{e.GetType().Name} without '{messageContains}' in its message: {e.Message}");
            else
                Pass($"{what}: {e.GetType().Name}");
        }
        catch (Exception e)
        {
            Fail(what, $"{e.GetType().Name} (expected {typeof(T).Name}): {e.Message}");
        }
    }

    public void Returns(string what, Action action)
    {
        try
        {
            action();
            Pass(what);
        }
        catch (Exception e)
        {
            Fail(what, $"{e.GetType().Name}: {e.Message}");
        }
    }
}
