namespace Smelt.Training.Logging;

/// <summary>The PNG loss curve written at the end of a run (training loss per step, validation loss where measured).</summary>
public static class LossPlot
{
    public static void Save(IReadOnlyList<StepMetrics> metrics, string path, string title)
    {
        var plot = new ScottPlot.Plot();
        var train = metrics.Where(m => double.IsFinite(m.Loss)).ToArray();
        if (train.Length > 0)
        {
            var s = plot.Add.Scatter(train.Select(m => (double)m.Step).ToArray(), train.Select(m => m.Loss).ToArray());
            s.LegendText = "train loss";
            s.MarkerSize = train.Length > 60 ? 0 : 4;
        }
        var val = metrics.Where(m => m.ValLoss is { } v && double.IsFinite(v)).ToArray();
        if (val.Length > 0)
        {
            var s = plot.Add.Scatter(val.Select(m => (double)m.Step).ToArray(), val.Select(m => m.ValLoss!.Value).ToArray());
            s.LegendText = "validation loss";
            s.MarkerSize = 6;
        }
        plot.Title(title);
        plot.XLabel("optimizer step");
        plot.YLabel("loss (nats/token)");
        plot.ShowLegend();
        var tmp = path + ".tmp.png";
        plot.SavePng(tmp, 900, 520);
        File.Move(tmp, path, overwrite: true);
    }
}
