using Spectre.Console;

namespace Smelt.Training;

/// <summary>Where the trainer reports progress: a live Spectre.Console bar on a terminal, plain lines otherwise, or nothing.</summary>
public interface ITrainProgress
{
    void BeginPhase(string name, int totalSteps, int doneSteps);
    void Step(int doneSteps, double loss, double lr, double tokensPerSecond);
    void Message(string line);
}

public sealed class SilentProgress : ITrainProgress
{
    public List<string> Messages { get; } = [];
    public void BeginPhase(string name, int totalSteps, int doneSteps) { }
    public void Step(int doneSteps, double loss, double lr, double tokensPerSecond) { }
    public void Message(string line) => Messages.Add(line);
}

/// <summary>One line per logging step, for logs and pipes.</summary>
public sealed class LineProgress(TextWriter writer, int every) : ITrainProgress
{
    private string _phase = "";
    private int _total;
    private DateTime _start;
    private int _startDone;

    public void BeginPhase(string name, int totalSteps, int doneSteps)
    {
        (_phase, _total, _start, _startDone) = (name, totalSteps, DateTime.UtcNow, doneSteps);
        writer.WriteLine($"phase {name}: steps {doneSteps}/{totalSteps}");
    }

    public void Step(int doneSteps, double loss, double lr, double tokensPerSecond)
    {
        if (doneSteps % every != 0 && doneSteps != _total) return;
        var elapsed = (DateTime.UtcNow - _start).TotalSeconds;
        var rate = (doneSteps - _startDone) / Math.Max(elapsed, 1e-9);
        var eta = rate > 0 ? TimeSpan.FromSeconds((_total - doneSteps) / rate) : TimeSpan.Zero;
        writer.WriteLine($"[{_phase}] step {doneSteps}/{_total}  loss {loss:F4}  lr {lr:E2}  {tokensPerSecond:F0} tok/s  eta {eta:hh\\:mm\\:ss}");
        writer.Flush();
    }

    public void Message(string line) { writer.WriteLine(line); writer.Flush(); }
}

/// <summary>A Spectre.Console progress bar with loss, learning rate, tokens/s and ETA. Use <see cref="Run"/>.</summary>
public sealed class SpectreProgress : ITrainProgress
{
    private readonly ProgressContext _ctx;
    private ProgressTask? _task;
    private string _phase = "";

    private SpectreProgress(ProgressContext ctx) => _ctx = ctx;

    public static T Run<T>(Func<ITrainProgress, T> body) =>
        AnsiConsole.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(),
                     new ElapsedTimeColumn(), new RemainingTimeColumn())
            .Start(ctx => body(new SpectreProgress(ctx)));

    public void BeginPhase(string name, int totalSteps, int doneSteps)
    {
        _phase = name;
        _task?.StopTask();
        _task = _ctx.AddTask(Markup.Escape($"{name}: starting"), maxValue: totalSteps);
        _task.Value = doneSteps;
    }

    public void Step(int doneSteps, double loss, double lr, double tokensPerSecond)
    {
        if (_task is null) return;
        _task.Value = doneSteps;
        _task.Description = Markup.Escape($"{_phase} {doneSteps}/{_task.MaxValue:F0} loss {loss:F3} lr {lr:E1} {tokensPerSecond:F0} tok/s");
    }

    public void Message(string line) => AnsiConsole.MarkupLine(Markup.Escape(line));
}
