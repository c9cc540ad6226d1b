using System.Diagnostics;
using Vae.Data;
using Vae.Files;
using Xunit;

namespace Vae.Runtime.Tests.Files;

/// <summary>
/// The file system around the formats: paths that are not regular files are refused without being opened (a FIFO
/// would block forever), saves clean up after themselves and after earlier killed saves, and a failed save says the
/// previous file is intact.
/// </summary>
public sealed class FileSystemTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "vae-fs-tests-" + Guid.NewGuid().ToString("N"));

    public FileSystemTests() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static readonly SafeTensor[] Small = [new("w", [2], [1f, 2f])];

    /// <summary>Every reader of a file path, each with what it must throw.</summary>
    private static IEnumerable<(string Name, Action<string> Read)> Readers()
    {
        yield return ("SafeTensors.ReadFile", p => SafeTensors.ReadFile(p));
        yield return ("SafeTensors.ReadHeader", p => SafeTensors.ReadHeader(p));
        yield return ("Checkpoint.ReadMetadata", p => Checkpoint.ReadMetadata(p));
        yield return ("Checkpoint.ReadArchitecture", p => Checkpoint.ReadArchitecture(p));
        yield return ("Checkpoint.LoadInto", p =>
        {
            using var device = Device.Cpu(1);
            using var model = new TorchFixtureVae(device);
            Checkpoint.LoadInto(model, p);
        });
        yield return ("IdxReader.ReadImages", p => IdxReader.ReadImages(p));
        yield return ("IdxReader.ReadLabels", p => IdxReader.ReadLabels(p));
    }

    /// <summary>Runs every reader on <paramref name="path"/> with a deadline, so a reader that blocks fails instead of hanging.</summary>
    private static void AssertEveryReaderRefuses(string path, params string[] fragments)
    {
        foreach (var (name, read) in Readers())
        {
            var task = Task.Run(() => Record.Exception(() => read(path)));
            Assert.True(task.Wait(TimeSpan.FromSeconds(20)), $"{name} blocked on '{path}'");
            var e = task.Result;
            Assert.True(e is InvalidDataException, $"{name} threw {e?.GetType().Name ?? "nothing"}: {e?.Message}");
            Assert.StartsWith(path + ": ", e!.Message);
            foreach (string f in fragments) Assert.Contains(f, e.Message);
        }
    }

    private static bool Run(string program, params string[] args)
    {
        try
        {
            var info = new ProcessStartInfo(program) { UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true };
            foreach (string a in args) info.ArgumentList.Add(a);
            using var p = Process.Start(info)!;
            p.WaitForExit();
            return p.ExitCode == 0;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return false;
        }
    }

    // ---- what is at the path -------------------------------------------------------------------------------

    [Fact]
    public void A_fifo_is_refused_without_blocking()
    {
        if (!OperatingSystem.IsLinux()) return;
        string fifo = Path.Combine(_dir, "checkpoint.safetensors");
        Assert.True(Run("mkfifo", fifo), "mkfifo failed");
        AssertEveryReaderRefuses(fifo, "a FIFO (named pipe), not a regular file");
    }

    [Fact]
    public void A_directory_is_refused_as_such()
    {
        string folder = Path.Combine(_dir, "model.safetensors");
        Directory.CreateDirectory(folder);
        AssertEveryReaderRefuses(folder, "this is a directory");
    }

    [Fact]
    public void A_device_is_refused_without_reading_it()
    {
        if (!OperatingSystem.IsLinux() || !File.Exists("/dev/zero")) return;
        AssertEveryReaderRefuses("/dev/zero", "a character device, not a regular file");
        AssertEveryReaderRefuses("/dev/urandom", "a character device");
    }

    [Fact]
    public void A_symbolic_link_to_a_regular_file_is_followed()
    {
        string target = Path.Combine(_dir, "real.safetensors");
        SafeTensors.WriteFile(target, Small);
        string link = Path.Combine(_dir, "link.safetensors");
        File.CreateSymbolicLink(link, target);
        Assert.Equal([1f, 2f], SafeTensors.ReadFile(link)["w"].Data);
    }

    [Fact]
    public void Missing_files_and_bad_paths_are_the_documented_exceptions()
    {
        string missing = Path.Combine(_dir, "none.safetensors");
        foreach (var (name, read) in Readers())
        {
            var e = Assert.Throws<FileNotFoundException>(() => read(missing));
            Assert.Contains(missing, e.Message);
            var folder = Assert.Throws<FileNotFoundException>(() => read(Path.Combine(_dir, "absent", "x")));
            Assert.Contains("does not exist", folder.Message);
            Assert.ThrowsAny<ArgumentException>(() => read(""));
            Assert.ThrowsAny<ArgumentException>(() => read("a\0b"));
        }
    }

    [Fact]
    public void An_empty_regular_file_is_malformed_not_special()
    {
        string empty = Path.Combine(_dir, "empty.safetensors");
        File.WriteAllBytes(empty, []);
        var e = Assert.Throws<InvalidDataException>(() => SafeTensors.ReadFile(empty));
        Assert.Contains("0 bytes long", e.Message);
    }

    // ---- saving --------------------------------------------------------------------------------------------

    [Fact]
    public void A_save_removes_the_stale_temporary_files_of_its_target_only()
    {
        string path = Path.Combine(_dir, "checkpoint.safetensors");
        string stale1 = $"{path}.tmp-{Guid.NewGuid():N}";
        string stale2 = $"{path}.tmp-{Guid.NewGuid():N}";
        File.WriteAllBytes(stale1, new byte[100]);
        File.WriteAllBytes(stale2, []);
        string[] kept =
        [
            $"{path}.tmp-notes.txt",                                              // not our pattern
            $"{path}.tmp-{Guid.NewGuid():N}"[..^1] + "x",                         // not 32 hex digits
            $"{path}.tmp-{Guid.NewGuid():N}0",                                    // 33 of them
            $"{path}.tmp-" + Guid.NewGuid().ToString("N").ToUpperInvariant(),     // not the writer's lowercase
            Path.Combine(_dir, $"other.safetensors.tmp-{Guid.NewGuid():N}"),       // another target's
            $"{path}.bak",
        ];
        foreach (string k in kept) File.WriteAllBytes(k, [1]);

        // A save in progress holds its temporary file open and locked: it must survive another save's clean-up.
        string inProgress = $"{path}.tmp-{Guid.NewGuid():N}";
        using (var held = new FileStream(inProgress, FileMode.CreateNew, FileAccess.Write, FileShare.None))
        {
            SafeTensors.WriteFile(path, Small);
            Assert.True(File.Exists(inProgress));
        }

        Assert.False(File.Exists(stale1));
        Assert.False(File.Exists(stale2));
        foreach (string k in kept) Assert.True(File.Exists(k), k);
        Assert.Equal([1f, 2f], SafeTensors.ReadFile(path)["w"].Data);

        // Once its owner is gone (closed, as a killed process's is), the next save removes it.
        SafeTensors.WriteFile(path, Small);
        Assert.False(File.Exists(inProgress));
    }

    [Fact]
    public void A_checkpoint_save_cleans_up_after_a_killed_save()
    {
        using var device = Device.Cpu(1);
        using var model = new TorchFixtureVae(device);
        string path = Path.Combine(_dir, "checkpoint.safetensors");
        Checkpoint.Save(model, path);
        // What a save killed between writing and renaming leaves behind.
        File.Copy(path, $"{path}.tmp-{Guid.NewGuid():N}");
        Checkpoint.Save(model, path);
        Assert.Equal([path], Directory.GetFiles(_dir));
    }

    /// <summary>A stream that fails like a full disk after <paramref name="room"/> bytes.</summary>
    private sealed class FullDisk(Stream inner, long room) : Stream
    {
        private long _written;

        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => throw new NotSupportedException();
            set => throw new NotSupportedException();
        }

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            if (_written + buffer.Length > room) throw new IOException("No space left on device");
            _written += buffer.Length;
            inner.Write(buffer);
        }

        public override void Flush() => inner.Flush();
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
    }

    [Fact]
    public void A_failed_write_removes_its_temporary_file_and_says_the_previous_file_is_intact()
    {
        string path = Path.Combine(_dir, "checkpoint.safetensors");
        SafeTensors.WriteFile(path, Small);
        byte[] before = File.ReadAllBytes(path);

        var big = new SafeTensor("w", [10_000], new float[10_000]);
        var e = Assert.Throws<IOException>(() => SafeTensors.WriteFile(path, [big], null, s => new FullDisk(s, room: 1000)));
        Assert.Contains($"Could not write '{path}': No space left on device", e.Message);
        Assert.Contains("The previous 'checkpoint.safetensors' is intact: it was not replaced", e.Message);
        Assert.Contains("the partial temporary file was removed", e.Message);
        Assert.Equal("No space left on device", e.InnerException!.Message);
        Assert.Equal(before, File.ReadAllBytes(path));
        Assert.Equal([path], Directory.GetFiles(_dir));

        string fresh = Path.Combine(_dir, "fresh.safetensors");
        var first = Assert.Throws<IOException>(() => SafeTensors.WriteFile(fresh, [big], null, s => new FullDisk(s, room: 1000)));
        Assert.Contains($"No file was created at '{fresh}'", first.Message);
        Assert.Equal([path], Directory.GetFiles(_dir));
    }

    [Fact]
    public void Writing_over_a_directory_is_refused_before_writing()
    {
        string folder = Path.Combine(_dir, "model.safetensors");
        Directory.CreateDirectory(folder);
        var e = Assert.Throws<IOException>(() => SafeTensors.WriteFile(folder, Small));
        Assert.Contains("it is a directory", e.Message);
        Assert.Empty(Directory.GetFiles(_dir));
    }

    [Fact]
    public void A_full_disk_keeps_the_previous_checkpoint()
    {
        // A real full file system: a 64 KB tmpfs, where the machine lets tests mount one (root on Linux); otherwise
        // the stream test above stands in for it.
        if (!OperatingSystem.IsLinux() || Environment.UserName != "root") return;
        string mount = Path.Combine(_dir, "small-disk");
        Directory.CreateDirectory(mount);
        if (!Run("mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", mount)) return;
        try
        {
            using var device = Device.Cpu(1);
            using var model = new TorchFixtureVae(device, seed: 1);
            string path = Path.Combine(mount, "checkpoint.safetensors");
            Checkpoint.Save(model, path);
            byte[] before = File.ReadAllBytes(path);

            var e = Assert.Throws<IOException>(() => SafeTensors.WriteFile(path, [new SafeTensor("w", [40_000], new float[40_000])]));
            Assert.Contains("The previous 'checkpoint.safetensors' is intact", e.Message);
            Assert.Equal(before, File.ReadAllBytes(path));
            Assert.Equal([path], Directory.GetFiles(mount));

            using var again = new TorchFixtureVae(device, seed: 2);
            Checkpoint.LoadInto(again, path);
            Assert.Equal(model.GetParameters(), again.GetParameters());
        }
        finally
        {
            Run("umount", mount);
        }
    }
}
