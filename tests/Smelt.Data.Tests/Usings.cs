global using Smelt.TestSupport;
