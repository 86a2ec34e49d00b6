using YamlDotNet.Serialization;
using YamlDotNet.Serialization.NamingConventions;

namespace Smelt.Training.Config;

/// <summary>Writes the resolved config (every default filled in, overrides applied) so a run records exactly what it used.</summary>
public static class ConfigWriter
{
    public static string ToYaml(TrainConfig config)
    {
        var serializer = new SerializerBuilder()
            .WithNamingConvention(UnderscoredNamingConvention.Instance)
            .ConfigureDefaultValuesHandling(DefaultValuesHandling.Preserve)
            .Build();
        return "# resolved by smelt train: every default filled in and every --set applied\n" + serializer.Serialize(config);
    }
}
