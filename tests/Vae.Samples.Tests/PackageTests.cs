using System.Diagnostics;
using System.IO.Compression;
using System.Text;
using System.Xml.Linq;

namespace Vae.Samples.Tests;

/// <summary>
/// What a new user does with the package: a fresh console project outside the repository, whose only package source
/// is a folder holding the packed <c>Vae</c> package, declares a model, compiles warning-free and trains a step; the
/// package carries its XML documentation (IntelliSense), its readme and complete metadata.
/// </summary>
public sealed class PackageTests
{
    private static string Configuration =>
        AppContext.BaseDirectory.Replace('\\', '/').Contains("/bin/Debug/", StringComparison.Ordinal) ? "Debug" : "Release";

    [Fact]
    public async Task A_fresh_console_project_compiles_a_model_from_the_packed_package_and_trains()
    {
        string root = AppRunner.TempFolder("package");
        string feed = Path.Combine(root, "feed");
        string app = Path.Combine(root, "app");
        Directory.CreateDirectory(app);

        // The tests' build already built the runtime and the generator in this configuration: pack what it made.
        var pack = await Run(AppRunner.RepositoryRoot, "pack", Path.Combine("src", "Vae.Runtime", "Vae.Runtime.csproj"),
            "-c", Configuration, "--no-build", "-o", feed);
        Assert.True(pack.ExitCode == 0, pack.Output);
        Assert.DoesNotContain("warning", pack.Output, StringComparison.OrdinalIgnoreCase);
        string package = Directory.GetFiles(feed, "Vae.*.nupkg").Single();
        string version = Path.GetFileNameWithoutExtension(package)["Vae.".Length..];

        CheckPackage(package);

        // Only the folder as a source, and a private packages folder, so nothing comes from the network or a cache.
        File.WriteAllText(Path.Combine(app, "nuget.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <config><add key="globalPackagesFolder" value="{Path.Combine(root, "packages")}" /></config>
              <packageSources><clear /><add key="local" value="{feed}" /></packageSources>
            </configuration>
            """);
        File.WriteAllText(Path.Combine(app, "app.csproj"), $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <OutputType>Exe</OutputType>
                <TargetFramework>net10.0</TargetFramework>
                <Nullable>enable</Nullable>
                <ImplicitUsings>enable</ImplicitUsings>
                <TreatWarningsAsErrors>true</TreatWarningsAsErrors>
              </PropertyGroup>
              <ItemGroup>
                <PackageReference Include="Vae" Version="{version}" />
              </ItemGroup>
            </Project>
            """);
        File.WriteAllText(Path.Combine(app, "Program.cs"), """
            using Vae;

            using var device = Device.Cpu();
            using var model = new TinyVae(device, seed: 1);
            var x = new float[8 * TinyVae.InputSize];
            for (int i = 0; i < x.Length; i++) x[i] = (i % 3) / 2f;
            double loss = model.TrainStep(x, new Adam(1e-3f));
            Console.WriteLine($"step {model.Step} loss {loss:F4} negative ELBO {model.NegativeElbo(x):F4}");

            // A convolutional model no test of the repository declares: 3x20x20 colour images, BatchNorm in the encoder.
            using var conv = new ColourVae(device, seed: 2);
            var images = new float[4 * ColourVae.InputSize];
            for (int i = 0; i < images.Length; i++) images[i] = (i % 5) / 4f;
            double convLoss = conv.TrainStep(images, new Adam(1e-3f));
            Console.WriteLine($"conv step {conv.Step} loss {convLoss:F4} parameters {conv.Architecture.ParameterCount}");

            [VariationalAutoencoder(Input = 12, Latent = 2, Likelihood = Likelihood.Bernoulli)]
            [Encoder(8, Activation.Relu)]
            [Decoder(8, Activation.Tanh)]
            public partial class TinyVae;

            [VariationalAutoencoder(Latent = 6, Likelihood = Likelihood.Gaussian)]
            [ImageInput(3, 20, 20)]
            [EncoderConv2d(16, 4, 2, 1, Activation.Relu, BatchNorm = true)]
            [EncoderConv2d(24, 3, 2, 1, Activation.Silu)]
            [Encoder(32, Activation.Relu)]
            [Decoder(600, Activation.Relu)]
            [DecoderReshape(24, 5, 5)]
            [DecoderConvTranspose2d(16, 4, 2, 1, 0, Activation.Relu)]
            [DecoderConvTranspose2d(3, 4, 2, 1, 0, Activation.Identity)]
            public partial class ColourVae;
            """);

        var build = await Run(app, "build", "-c", "Release");
        Assert.True(build.ExitCode == 0, build.Output);
        Assert.Contains("0 Warning(s)", build.Output);

        var run = await Run(app, "exec", Path.Combine(app, "bin", "Release", "net10.0", "app.dll"));
        Assert.True(run.ExitCode == 0, run.Output);
        Assert.Matches(@"step 1 loss \d+\.\d{4} negative ELBO \d+\.\d{4}", run.Output);
        Assert.Matches(@"conv step 1 loss -?\d+\.\d{4} parameters \d+", run.Output);

        // A decoder that ends one pixel short: the build fails at the attribute, with every computed shape in the message.
        File.WriteAllText(Path.Combine(app, "Wrong.cs"), """
            using Vae;

            [VariationalAutoencoder(Latent = 2)]
            [ImageInput(1, 20, 20)]
            [EncoderConv2d(8, 3, 2, 1, Activation.Relu)]
            [Decoder(800, Activation.Relu)]
            [DecoderReshape(8, 10, 10)]
            [DecoderConvTranspose2d(1, 3, 2, 1, 0, Activation.Identity)]
            public partial class ShortVae;
            """);
        var wrong = await Run(app, "build", "-c", "Release");
        Assert.True(wrong.ExitCode != 0, "a decoder that ends at 1x19x19 for a 1x20x20 input built:\n" + wrong.Output);
        Assert.Contains("Wrong.cs(8,", wrong.Output);
        Assert.Contains("VAE025", wrong.Output);
        Assert.Contains("1x19x19", wrong.Output);
        Assert.Contains("1x20x20", wrong.Output);

        // What the IDE reads for tooltips: the restored package's XML documentation, beside the assembly.
        string docs = Path.Combine(root, "packages", "vae", version, "lib", "net10.0", "Vae.xml");
        Assert.True(File.Exists(docs), $"{docs} is missing: the package carries no IntelliSense documentation.");
    }

    private static void CheckPackage(string package)
    {
        using var zip = ZipFile.OpenRead(package);
        var names = zip.Entries.Select(e => e.FullName).ToHashSet();
        Assert.Contains("lib/net10.0/Vae.dll", names);
        Assert.Contains("lib/net10.0/Vae.xml", names);
        Assert.Contains("analyzers/dotnet/cs/Vae.Generator.dll", names);
        Assert.Contains("PACKAGE.md", names);

        XDocument docs;
        using (var s = zip.GetEntry("lib/net10.0/Vae.xml")!.Open()) docs = XDocument.Load(s);
        var members = docs.Descendants("member").Select(m => (string)m.Attribute("name")!).ToHashSet();
        foreach (string member in new[]
                 {
                     "T:Vae.VaeModel", "M:Vae.VaeModel.Elbo(System.ReadOnlySpan{System.Single},System.UInt64)",
                     "M:Vae.VaeModel.NegativeElbo(System.ReadOnlySpan{System.Single},System.UInt64)",
                     "M:Vae.Data.FashionMnist.Load(System.String,System.Boolean)", "T:Vae.Imaging.ImageGrid",
                     "M:Vae.Adam.#ctor(System.Single,System.Single,System.Single,System.Single,System.Single)",
                     "P:Vae.ModelDescriptor.Input", "T:Vae.Trainer",
                 })
            Assert.Contains(member, members);

        XDocument nuspec;
        using (var s = zip.Entries.Single(e => e.FullName.EndsWith(".nuspec", StringComparison.Ordinal)).Open()) nuspec = XDocument.Load(s);
        string Field(string name) => nuspec.Descendants().FirstOrDefault(e => e.Name.LocalName == name)?.Value ?? "";
        Assert.Equal("Vae contributors", Field("authors"));
        Assert.Equal("PACKAGE.md", Field("readme"));
        Assert.Equal("MIT", Field("license"));
        Assert.Contains("source generator", Field("description"));
        Assert.Contains("variational-autoencoder", Field("tags"));
        Assert.NotNull(nuspec.Descendants().FirstOrDefault(e => e.Name.LocalName == "repository"));
    }

    private static async Task<(int ExitCode, string Output)> Run(string directory, params string[] args)
    {
        var start = new ProcessStartInfo(AppProcess.DotnetHost())
        {
            WorkingDirectory = directory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string a in args) start.ArgumentList.Add(a);
        if (args[0] is "build" or "pack")
        {
            start.ArgumentList.Add("--disable-build-servers");
            start.ArgumentList.Add("-nologo");
        }
        // The test host's own MSBuild settings would steer the child build; it finds its SDK as a user's shell would.
        foreach (string name in new[] { "MSBuildExtensionsPath", "MSBUILD_EXE_PATH", "MSBuildSDKsPath", "MSBuildLoadMicrosoftTargetsReadOnly" })
            start.Environment.Remove(name);
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        string stdout = await process.StandardOutput.ReadToEndAsync();
        using (var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(5)))
            await process.WaitForExitAsync(timeout.Token);
        var output = new StringBuilder().Append(stdout).Append(await stderr).ToString();
        return (process.ExitCode, $"dotnet {string.Join(' ', args)} in {directory} (exit {process.ExitCode}):\n{output}");
    }
}
